//! Redirections: `<`, `>`, `>>`, `2>&1`, here-documents and here-strings.

use brush_parser::ast;

use super::Shell;
use crate::fs::WriteMode;
use crate::io::{Input, Io, Output};

impl Shell {
    /// Applies redirections to a copy of `io`. On failure prints bash's message and
    /// returns status 1.
    pub(super) async fn apply_redirects(
        &mut self,
        redirects: &[ast::IoRedirect],
        io: &Io,
    ) -> Result<Io, i32> {
        let mut io = io.clone();
        for r in redirects {
            match r {
                ast::IoRedirect::File(fd, kind, target) => {
                    let word = match target {
                        ast::IoFileRedirectTarget::Filename(w)
                        | ast::IoFileRedirectTarget::Duplicate(w) => {
                            self.expand_plain(&w.value, &io).await?
                        }
                        ast::IoFileRedirectTarget::Fd(n) => n.to_string(),
                        ast::IoFileRedirectTarget::ProcessSubstitution(..) => {
                            let _ = io
                                .stderr
                                .write_str("bash: process substitution is not supported\n")
                                .await;
                            return Err(1);
                        }
                    };
                    match kind {
                        ast::IoFileRedirectKind::Read => {
                            let fd = fd.unwrap_or(0);
                            if fd != 0 {
                                continue;
                            }
                            io.stdin = self.open_input(&word, &io).await?;
                        }
                        ast::IoFileRedirectKind::Write
                        | ast::IoFileRedirectKind::Clobber
                        | ast::IoFileRedirectKind::Append
                        | ast::IoFileRedirectKind::ReadAndWrite => {
                            let how = if matches!(kind, ast::IoFileRedirectKind::Append) {
                                WriteMode::Append
                            } else if matches!(kind, ast::IoFileRedirectKind::ReadAndWrite) {
                                WriteMode::Keep
                            } else {
                                WriteMode::Truncate
                            };
                            let out = self.open_output(&word, how, &io).await?;
                            match fd.unwrap_or(1) {
                                1 => io.stdout = out,
                                2 => io.stderr = out,
                                _ => {}
                            }
                        }
                        ast::IoFileRedirectKind::DuplicateOutput => {
                            let src = match word.as_str() {
                                "1" => io.stdout.clone(),
                                "2" => io.stderr.clone(),
                                "-" => Output::Null,
                                other => self.open_output(other, WriteMode::Truncate, &io).await?,
                            };
                            match fd.unwrap_or(1) {
                                1 => io.stdout = src,
                                2 => io.stderr = src,
                                _ => {}
                            }
                        }
                        ast::IoFileRedirectKind::DuplicateInput => {}
                    }
                }
                ast::IoRedirect::OutputAndError(w, append) => {
                    let word = self.expand_plain(&w.value, &io).await?;
                    let how = if *append {
                        WriteMode::Append
                    } else {
                        WriteMode::Truncate
                    };
                    let out = self.open_output(&word, how, &io).await?;
                    io.stdout = out.clone();
                    io.stderr = out;
                }
                ast::IoRedirect::HereString(_, w) => {
                    let mut text = self.expand_plain(&w.value, &io).await?;
                    text.push('\n');
                    io.stdin = Input::bytes(text.into_bytes());
                }
                ast::IoRedirect::HereDocument(_, doc) => {
                    let text = if doc.requires_expansion {
                        self.expand_heredoc(&doc.doc.value, &io).await?
                    } else {
                        doc.doc.value.clone()
                    };
                    io.stdin = Input::bytes(text.into_bytes());
                }
            }
        }
        Ok(io)
    }

    pub(super) async fn open_input(&self, word: &str, io: &Io) -> Result<Input, i32> {
        if word == "/dev/null" {
            return Ok(Input::empty());
        }
        let path = self.ctx.resolve(word);
        match self.ctx.with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec)) {
            Ok(data) => Ok(Input::bytes(data)),
            Err(e) => Err(cannot_open(word, e, io).await),
        }
    }

    pub(super) async fn open_output(
        &self,
        word: &str,
        how: WriteMode,
        io: &Io,
    ) -> Result<Output, i32> {
        match word {
            "/dev/null" => return Ok(Output::Null),
            "/dev/stdout" => return Ok(io.stdout.clone()),
            "/dev/stderr" => return Ok(io.stderr.clone()),
            _ => {}
        }
        let target = self.ctx.file(word);
        match target.open(how) {
            Ok(()) => Ok(Output::File(target)),
            Err(e) => Err(cannot_open(word, e, io).await),
        }
    }
}

/// Reports a redirection target that cannot be opened; bash's status 1.
async fn cannot_open(word: &str, e: impl std::fmt::Display, io: &Io) -> i32 {
    let _ = io
        .stderr
        .write_str(&format!("bash: line 1: {word}: {e}\n"))
        .await;
    1
}
