//! Redirections and file descriptors: `<`, `>`, `>>`, `n>&m`, `n<&m`, `n>&-`, `&>`,
//! here-documents and here-strings, descriptors 3 and up, and what `exec` makes of
//! them for the rest of the shell.

use brush_parser::ast;

use super::{Dialect, Fd, Flow, Shell};
use crate::fs::{FsError, WriteMode};
use crate::io::{Input, Io, Output};

/// What a redirection opens.
enum Opened {
    Out(Output),
    In(Input),
    Close,
}

impl Shell {
    /// The streams a command gets: `io` with what `exec` redirected for good.
    pub(super) fn effective_io(&self, io: &Io) -> Io {
        let mut io = io.clone();
        if let Some(Fd::In(i)) = &self.std_override[0] {
            io.stdin = i.clone();
        }
        if let Some(Fd::Out(o)) = &self.std_override[1] {
            io.stdout = o.clone();
        }
        if let Some(Fd::Out(o)) = &self.std_override[2] {
            io.stderr = o.clone();
        }
        io
    }

    /// Applies redirections to a copy of `io` (and to descriptors 3 and up, which the
    /// caller restores unless `persistent`, as `exec` keeps them). A target that
    /// cannot be opened is reported as the shell does, with its status.
    pub(super) async fn apply_redirects(
        &mut self,
        redirects: &[ast::IoRedirect],
        io: &Io,
        persistent: bool,
    ) -> Result<Io, Flow> {
        let mut io = io.clone();
        for r in redirects {
            let (fd, opened) = match r {
                ast::IoRedirect::File(fd, kind, target) => {
                    let word = match target {
                        ast::IoFileRedirectTarget::Filename(w)
                        | ast::IoFileRedirectTarget::Duplicate(w) => {
                            self.expand_plain(&w.value, &io).await?
                        }
                        ast::IoFileRedirectTarget::Fd(n) => n.to_string(),
                        ast::IoFileRedirectTarget::ProcessSubstitution(..) => {
                            return Err(self.refuse(&io, "process substitution").await);
                        }
                    };
                    match kind {
                        ast::IoFileRedirectKind::Read => (
                            fd.unwrap_or(0),
                            Opened::In(self.open_input(&word, &io).await?),
                        ),
                        ast::IoFileRedirectKind::Write
                        | ast::IoFileRedirectKind::Clobber
                        | ast::IoFileRedirectKind::Append => {
                            let how = if matches!(kind, ast::IoFileRedirectKind::Append) {
                                WriteMode::Append
                            } else {
                                WriteMode::Truncate
                            };
                            (
                                fd.unwrap_or(1),
                                Opened::Out(self.open_output(&word, how, &io).await?),
                            )
                        }
                        ast::IoFileRedirectKind::ReadAndWrite => {
                            return Err(self.refuse(&io, "the <> redirection").await);
                        }
                        ast::IoFileRedirectKind::DuplicateOutput
                        | ast::IoFileRedirectKind::DuplicateInput => {
                            let input = matches!(kind, ast::IoFileRedirectKind::DuplicateInput);
                            let fd = fd.unwrap_or(if input { 0 } else { 1 });
                            (fd, self.duplicate(&word, input, &io).await?)
                        }
                    }
                }
                ast::IoRedirect::OutputAndError(w, append) => {
                    if self.dialect == Dialect::Dash {
                        return Err(self.refuse(&io, "&> in dash").await);
                    }
                    let word = self.expand_plain(&w.value, &io).await?;
                    let how = if *append {
                        WriteMode::Append
                    } else {
                        WriteMode::Truncate
                    };
                    let out = self.open_output(&word, how, &io).await?;
                    io.stdout = out.clone();
                    io.stderr = out;
                    if persistent {
                        self.std_override[1] = Some(Fd::Out(io.stdout.clone()));
                        self.std_override[2] = Some(Fd::Out(io.stderr.clone()));
                    }
                    continue;
                }
                ast::IoRedirect::HereString(fd, w) => {
                    let mut text = self.expand_plain(&w.value, &io).await?;
                    text.push('\n');
                    (fd.unwrap_or(0), Opened::In(Input::bytes(text.into_bytes())))
                }
                ast::IoRedirect::HereDocument(fd, doc) => {
                    let text = if doc.requires_expansion {
                        self.expand_heredoc(&doc.doc.value, &io).await?
                    } else {
                        doc.doc.value.clone()
                    };
                    (fd.unwrap_or(0), Opened::In(Input::bytes(text.into_bytes())))
                }
            };
            let fd = u32::try_from(fd).unwrap_or(u32::MAX);
            self.assign_fd(&mut io, fd, opened, persistent).await?;
        }
        Ok(io)
    }

    /// Makes descriptor `fd` what was opened.
    async fn assign_fd(
        &mut self,
        io: &mut Io,
        fd: u32,
        opened: Opened,
        persistent: bool,
    ) -> Result<(), Flow> {
        match (fd, opened) {
            (0, Opened::In(i)) => io.stdin = i,
            (0, Opened::Close) => io.stdin = Input::empty(),
            (1, Opened::Out(o)) => io.stdout = o,
            (2, Opened::Out(o)) => io.stderr = o,
            (1 | 2, Opened::Close) => {
                return Err(self.refuse(io, "closing stdout or stderr").await);
            }
            (0..=2, _) => return Err(self.refuse(io, "this use of a standard descriptor").await),
            (n, Opened::Out(o)) => {
                self.fds.insert(n, Fd::Out(o));
            }
            (n, Opened::In(i)) => {
                self.fds.insert(n, Fd::In(i));
            }
            (n, Opened::Close) => {
                self.fds.remove(&n);
            }
        }
        if persistent && fd <= 2 {
            self.std_override[fd as usize] = Some(match fd {
                0 => Fd::In(io.stdin.clone()),
                1 => Fd::Out(io.stdout.clone()),
                _ => Fd::Out(io.stderr.clone()),
            });
        }
        Ok(())
    }

    /// `n>&m`, `n<&m`, `n>&-`.
    async fn duplicate(&mut self, word: &str, input: bool, io: &Io) -> Result<Opened, Flow> {
        if word == "-" {
            return Ok(Opened::Close);
        }
        let Ok(m) = word.parse::<u32>() else {
            return Err(self
                .refuse(io, "duplicating onto a file name (>&word)")
                .await);
        };
        let found = match m {
            0 if input => Some(Opened::In(io.stdin.clone())),
            1 if !input => Some(Opened::Out(io.stdout.clone())),
            2 if !input => Some(Opened::Out(io.stderr.clone())),
            0..=2 => {
                return Err(self
                    .refuse(io, "this duplication of a standard descriptor")
                    .await);
            }
            n => match (self.fds.get(&n), input) {
                (Some(Fd::Out(o)), false) => Some(Opened::Out(o.clone())),
                (Some(Fd::In(i)), true) => Some(Opened::In(i.clone())),
                (Some(_), _) => return Err(self.refuse(io, "descriptors open both ways").await),
                (None, _) => None,
            },
        };
        match found {
            Some(o) => Ok(o),
            None => {
                self.say(io, &format!("{m}: Bad file descriptor")).await;
                Err(Flow::Next(self.redirect_status()))
            }
        }
    }

    /// The status of a failed redirection: bash 1, dash 2.
    fn redirect_status(&self) -> i32 {
        match self.dialect {
            Dialect::Bash => 1,
            Dialect::Dash => 2,
        }
    }

    pub(super) async fn open_input(&self, word: &str, io: &Io) -> Result<Input, Flow> {
        if word == "/dev/null" {
            return Ok(Input::empty());
        }
        let path = self.ctx.resolve(word);
        match self.ctx.with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec)) {
            Ok(data) => Ok(Input::bytes(data)),
            Err(e) => Err(self.cannot_open(word, e, true, io).await),
        }
    }

    pub(super) async fn open_output(
        &self,
        word: &str,
        how: WriteMode,
        io: &Io,
    ) -> Result<Output, Flow> {
        match word {
            "/dev/null" => return Ok(Output::Null),
            "/dev/stdout" => return Ok(io.stdout.clone()),
            "/dev/stderr" => return Ok(io.stderr.clone()),
            _ => {}
        }
        let target = self.ctx.file(word);
        match target.open(how) {
            Ok(()) => Ok(Output::File(target)),
            Err(e) => Err(self.cannot_open(word, e, false, io).await),
        }
    }

    /// Reports a redirection target that cannot be opened, as the shell words it.
    async fn cannot_open(&self, word: &str, e: FsError, input: bool, io: &Io) -> Flow {
        let msg = match self.dialect {
            Dialect::Bash => format!("{word}: {e}"),
            Dialect::Dash => {
                let why = match e {
                    FsError::NotFound if input => "No such file".to_string(),
                    FsError::NotFound => "Directory nonexistent".to_string(),
                    other => other.to_string(),
                };
                if input {
                    format!("cannot open {word}: {why}")
                } else {
                    format!("cannot create {word}: {why}")
                }
            }
        };
        self.say(io, &msg).await;
        Flow::Next(self.redirect_status())
    }
}
