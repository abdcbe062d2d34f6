//! Environment variables fcctl sets on the functions it deploys (and the one FC sets).

/// The NAS release id the function serves; a new release makes a new function version.
pub const RELEASE: &str = "FCCTL_RELEASE";
/// The app's directory on NAS (`<mount>/<app>`), for the nas-agent.
pub const NAS_ROOT: &str = "FCCTL_NAS_ROOT";
/// The model directory inside the release the function serves.
pub const MODEL_DIR: &str = "MODEL_DIR";
/// Where the function may keep an optimised model between cold starts.
pub const MODEL_CACHE: &str = "FCCTL_MODEL_CACHE";
/// Largest decoded image, in pixels, the function accepts.
pub const MAX_PIXELS: &str = "FCCTL_MAX_PIXELS";
/// Concurrent classifications per instance.
pub const MAX_JOBS: &str = "FCCTL_MAX_JOBS";
/// Load the model at start instead of on the first request.
pub const EAGER_LOAD: &str = "FCCTL_EAGER_LOAD";
/// Set by `fcctl bench --cold` to a new value per sample so each sample is a new instance.
pub const COLD_NONCE: &str = "FCCTL_COLD_NONCE";
/// FC's custom-runtime port variable (FC sets it; 9000 when absent).
pub const LISTEN_PORT: &str = "FC_CUSTOM_LISTEN_PORT";
/// The address a custom runtime binds. FC needs `0.0.0.0` (its health check comes from outside
/// the instance), the default when unset; the local emulator sets `127.0.0.1` so nothing on the
/// network reaches an instance past the trigger's authentication.
pub const LISTEN_HOST: &str = "FCCTL_LISTEN_HOST";

/// The address to bind from [`LISTEN_HOST`]: `0.0.0.0` when unset or empty; a value that is not
/// an IP address is an error, never a silent fall-back to listening everywhere.
pub fn listen_host() -> Result<std::net::IpAddr, String> {
    match std::env::var(LISTEN_HOST) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| format!("{LISTEN_HOST}={v:?} is not an IP address")),
        _ => Ok(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
    }
}
