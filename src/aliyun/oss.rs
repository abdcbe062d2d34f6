//! OSS client (in progress).
