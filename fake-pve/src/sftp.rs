//! Placeholder until the SFTP subsystem lands.
pub struct SftpHandler;
impl SftpHandler {
    pub fn new(_host: crate::host::Host, _user: String, _home: String) -> Self {
        SftpHandler
    }
}
impl russh_sftp::server::Handler for SftpHandler {
    type Error = russh_sftp::protocol::StatusCode;
    fn unimplemented(&self) -> Self::Error {
        russh_sftp::protocol::StatusCode::OpUnsupported
    }
}
