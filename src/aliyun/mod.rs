//! Alibaba Cloud wire protocol: ACS3 signing, FC3 client, OSS client, retries.
