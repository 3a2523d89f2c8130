//! Placeholder until the pct emulator lands.
pub async fn run(_ctx: &crate::shell::Ctx, _args: &[String], io: &crate::io::Io) -> i32 {
    let _ = io.stderr.write_str("pct: not implemented yet\n").await;
    255
}
