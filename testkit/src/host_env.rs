//! More of [`HostEnv`]: the steps most host tests take, each in one call.

use crate::Mcp;
use crate::openssh::HostEnv;

impl HostEnv {
    /// [`HostEnv::start`], then [`HostEnv::server`] for it.
    pub async fn start_serving() -> (HostEnv, Mcp) {
        let env = HostEnv::start().await;
        let mcp = env.server().await;
        (env, mcp)
    }
}
