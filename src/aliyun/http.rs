//! The HTTP client every fcctl request goes through.

/// A `reqwest` client builder with TLS ready: rustls with the ring provider, installed as the
/// process default on first use (reqwest is built without a provider of its own, so a client
/// built any other way would have no TLS).
pub fn client_builder() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is already the default, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_a_client_with_tls() {
        let client = super::client_builder().https_only(true).build();
        assert!(client.is_ok(), "{client:?}");
    }
}
