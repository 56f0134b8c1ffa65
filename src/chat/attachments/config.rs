//! The attachment settings (docs/protocol.md §9): flags with environment
//! fallbacks, flattened into the server's configuration.

use clap::{Args, ValueEnum};

/// The types an upload may be, as detected from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Docx,
    Xlsx,
    Zip,
    /// Valid UTF-8 without NUL bytes that does not start like markup.
    Text,
}

#[derive(Clone, Debug, Args)]
pub struct AttachmentConfig {
    /// Where uploads are kept: `file://DIR` or `s3://bucket/prefix` (any
    /// S3-compatible store; the AWS_* variables, AWS_ENDPOINT_URL
    /// included). Several nodes must share one.
    #[arg(
        long,
        env = "ATTACHMENTS_STORE",
        default_value = "file://./attachments",
        global = true
    )]
    pub attachments_store: String,
    /// The largest upload, in bytes: the server stops reading there.
    #[arg(long, env = "ATTACHMENT_MAX_BYTES", default_value_t = 10 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub attachment_max_bytes: u64,
    /// Images with more pixels are refused before they are decoded.
    #[arg(long, env = "ATTACHMENT_MAX_PIXELS", default_value_t = 40_000_000, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub attachment_max_pixels: u64,
    /// The types accepted (detected from the bytes), comma-separated.
    #[arg(
        long,
        env = "ATTACHMENT_TYPES",
        value_enum,
        value_delimiter = ',',
        default_value = "png,jpeg,gif,webp,pdf,docx,xlsx,zip,text",
        global = true
    )]
    pub attachment_types: Vec<Kind>,
    /// An upload's body must arrive whole within this many seconds (other
    /// bodies: --body-read-timeout-seconds).
    #[arg(
        long,
        env = "ATTACHMENT_UPLOAD_TIMEOUT_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub attachment_upload_timeout_seconds: u64,
    /// How long a signed attachment URL works.
    #[arg(long, env = "ATTACHMENT_URL_TTL_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub attachment_url_ttl_seconds: u64,
    /// The key attachment URLs are signed with (at least 32 bytes). Default:
    /// derived from the HS256 JWT secret; required with a public-key JWT on
    /// several nodes.
    #[arg(
        long,
        env = "ATTACHMENT_URL_KEY",
        hide_env_values = true,
        global = true
    )]
    pub attachment_url_key: Option<String>,
    /// An upload no message took this long after it was made is deleted.
    #[arg(long, env = "ATTACHMENT_UNSENT_SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub attachment_unsent_seconds: u64,
    /// How often each node looks for such uploads.
    #[arg(long, env = "ATTACHMENT_SWEEP_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub attachment_sweep_seconds: u64,
    /// The server's public address (`https://chat.example.com`): attachment
    /// URLs are absolute with it, else paths from `/`.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
}
