//! JWT verification: a token in, the authenticated [`User`] out, or the
//! reason it was refused (`missing_token`, `invalid_token`, `expired_token`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use crate::chat::{DEFAULT_TENANT, Role, User, is_valid_tenant};
use crate::config::{JwtAlgorithm, ServerConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing_token")]
    MissingToken,
    #[error("invalid_token")]
    InvalidToken,
    #[error("expired_token")]
    ExpiredToken,
}

/// Verifies tokens with the one configured algorithm and key; built once at
/// start-up. Holds the HS256 secret (if any) so dev tokens can be minted.
#[derive(Clone)]
pub struct Verifier {
    decoding: DecodingKey,
    validation: Validation,
    /// Present for HS256 only: what `POST /api/dev/token` and
    /// `switchboard token` sign with.
    encoding: Option<EncodingKey>,
}

/// Where the secret came from, so start-up can warn about a generated one.
pub enum KeySource {
    Configured,
    /// Development mode without a configured key: this random secret is
    /// the one secret ever logged.
    Generated(String),
}

impl Verifier {
    pub fn from_config(config: &ServerConfig) -> anyhow::Result<(Self, KeySource)> {
        config.validate()?;
        let (decoding, encoding, default_alg, source) =
            match (&config.jwt_public_key_file, &config.jwt_secret) {
                (Some(path), _) => {
                    let pem = std::fs::read(path).map_err(|e| {
                        anyhow::anyhow!("cannot read JWT public key {}: {e}", path.display())
                    })?;
                    let (key, alg) = public_key(&pem, config.jwt_algorithm)?;
                    (key, None, alg, KeySource::Configured)
                }
                (None, Some(secret)) => (
                    DecodingKey::from_secret(secret.as_bytes()),
                    Some(EncodingKey::from_secret(secret.as_bytes())),
                    Algorithm::HS256,
                    KeySource::Configured,
                ),
                (None, None) => {
                    let secret = random_secret();
                    (
                        DecodingKey::from_secret(secret.as_bytes()),
                        Some(EncodingKey::from_secret(secret.as_bytes())),
                        Algorithm::HS256,
                        KeySource::Generated(secret),
                    )
                }
            };
        let algorithm = match config.jwt_algorithm {
            None => default_alg,
            Some(JwtAlgorithm::HS256) => Algorithm::HS256,
            Some(JwtAlgorithm::RS256) => Algorithm::RS256,
            Some(JwtAlgorithm::ES256) => Algorithm::ES256,
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.jwt_leeway_seconds;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        required.extend(config.jwt_issuer.as_ref().map(|_| "iss"));
        required.extend(config.jwt_audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        match &config.jwt_audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &config.jwt_issuer {
            validation.set_issuer(&[iss]);
        }
        let encoding = if algorithm == Algorithm::HS256 {
            encoding
        } else {
            None
        };
        Ok((
            Self {
                decoding,
                validation,
                encoding,
            },
            source,
        ))
    }

    /// Checks signature, algorithm, `exp` (required), `nbf`, `iss`, `aud`,
    /// that no extension is marked critical, then reads the claims the
    /// server uses. `token` is the bare JWT (see [`bearer_token`]).
    pub fn verify(&self, token: &str) -> Result<User, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        if has_critical_header(token)? {
            return Err(AuthError::InvalidToken);
        }
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => AuthError::ExpiredToken,
                    _ => AuthError::InvalidToken,
                })?;
        user_from_claims(&data.claims)
    }

    /// Signs a token for `user`, valid `ttl_seconds`. Only possible with an
    /// HS256 secret (development mode and `switchboard token`).
    pub fn mint(
        &self,
        sub: &str,
        role: &str,
        name: Option<&str>,
        tenant: Option<&str>,
        ttl_seconds: u64,
    ) -> Option<String> {
        let key = self.encoding.as_ref()?;
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims =
            serde_json::json!({ "sub": sub, "role": role, "iat": now, "exp": now + ttl_seconds });
        if let Some(name) = name {
            claims["name"] = Value::from(name);
        }
        if let Some(tenant) = tenant {
            claims["tenant"] = Value::from(tenant);
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key).ok()
    }
}

/// The token of an `Authorization` header value, for REST and sockets
/// alike: the `Bearer` scheme (any case) is required, then the token.
pub fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(AuthError::MissingToken);
    }
    let (scheme, token) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or(AuthError::InvalidToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::InvalidToken);
    }
    Ok(token)
}

/// RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` header
/// lists extensions it does not understand, and this server understands
/// none. jsonwebtoken ignores `crit`, so the header is read here.
fn has_critical_header(token: &str) -> Result<bool, AuthError> {
    let segment = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| AuthError::InvalidToken)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| AuthError::InvalidToken)?;
    Ok(header.contains_key("crit"))
}

/// An RSA or EC public key in PEM (PKCS#1 or SPKI); the key type decides
/// the algorithm unless one is configured.
fn public_key(
    pem: &[u8],
    algorithm: Option<JwtAlgorithm>,
) -> anyhow::Result<(DecodingKey, Algorithm)> {
    let wants_ec = algorithm == Some(JwtAlgorithm::ES256);
    let rsa = || DecodingKey::from_rsa_pem(pem).map(|k| (k, Algorithm::RS256));
    let ec = || DecodingKey::from_ec_pem(pem).map(|k| (k, Algorithm::ES256));
    let found = if wants_ec {
        ec().or_else(|_| rsa())
    } else {
        rsa().or_else(|_| ec())
    };
    found.map_err(|e| anyhow::anyhow!("JWT public key is neither an RSA nor an EC PEM key: {e}"))
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `sub`, `role`/`roles`, `name`, `email` and `tenant` (docs/protocol.md §2).
pub fn user_from_claims(claims: &Map<String, Value>) -> Result<User, AuthError> {
    let id = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return Err(AuthError::InvalidToken),
    };
    let tenant = match claims.get("tenant") {
        None => DEFAULT_TENANT.to_string(),
        Some(Value::String(s)) if is_valid_tenant(s) => s.clone(),
        Some(_) => return Err(AuthError::InvalidToken),
    };
    let mut role = Role::Customer;
    let names = claims.get("role").into_iter().chain(
        claims
            .get("roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for name in names.filter_map(Value::as_str) {
        if let Some(r) = Role::from_token(name) {
            role = role.max(r);
        }
    }
    let text = |key: &str| {
        claims
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(User {
        id,
        tenant,
        role,
        name: text("name"),
        email: text("email"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::MAX_TENANT_CHARS;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn bearer_headers_need_the_scheme_in_any_case() {
        assert_eq!(bearer_token("Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("  BEARER \t abc  "), Ok("abc"));
        assert_eq!(bearer_token("abc"), Err(AuthError::InvalidToken));
        assert_eq!(bearer_token("Basic abc"), Err(AuthError::InvalidToken));
        assert_eq!(bearer_token("Bearer "), Err(AuthError::InvalidToken));
        assert_eq!(bearer_token(""), Err(AuthError::MissingToken));
    }

    #[test]
    fn a_critical_header_is_found_and_garbage_is_invalid() {
        let segment = |h: Value| URL_SAFE_NO_PAD.encode(h.to_string());
        let crit = format!(
            "{}.e30.sig",
            segment(json!({ "alg": "HS256", "crit": ["exp"] }))
        );
        assert_eq!(has_critical_header(&crit), Ok(true));
        let plain = format!("{}.e30.sig", segment(json!({ "alg": "HS256" })));
        assert_eq!(has_critical_header(&plain), Ok(false));
        assert_eq!(has_critical_header("garbage"), Err(AuthError::InvalidToken));
    }

    #[test]
    fn numeric_subjects_become_decimal_strings() {
        let user = user_from_claims(&claims(json!({ "sub": 42 }))).unwrap();
        assert_eq!(user.id, "42");
        assert_eq!(user.tenant, "default");
        assert_eq!(user.role, Role::Customer);
    }

    #[test]
    fn the_highest_known_role_wins_and_unknown_names_are_ignored() {
        let user = user_from_claims(&claims(
            json!({ "sub": "a", "role": "Customer", "roles": ["superuser", "AGENT"] }),
        ))
        .unwrap();
        assert_eq!(user.role, Role::Agent);
        let user = user_from_claims(&claims(json!({ "sub": "a", "role": "root" }))).unwrap();
        assert_eq!(user.role, Role::Customer);
    }

    #[test]
    fn a_tenant_that_is_not_a_non_empty_string_of_at_most_128_characters_is_refused() {
        let longest = "é".repeat(MAX_TENANT_CHARS);
        let user = user_from_claims(&claims(json!({ "sub": "a", "tenant": longest }))).unwrap();
        assert_eq!(user.tenant.chars().count(), MAX_TENANT_CHARS);
        let too_long = "t".repeat(MAX_TENANT_CHARS + 1);
        for tenant in [
            json!(""),
            json!(5),
            json!(null),
            json!(["a"]),
            json!(too_long),
        ] {
            let err =
                user_from_claims(&claims(json!({ "sub": "a", "tenant": tenant }))).unwrap_err();
            assert_eq!(err, AuthError::InvalidToken);
        }
    }

    #[test]
    fn a_missing_or_structured_subject_is_refused() {
        for c in [
            json!({}),
            json!({ "sub": "" }),
            json!({ "sub": { "id": 1 } }),
            json!({ "sub": 1.5 }),
        ] {
            assert_eq!(
                user_from_claims(&claims(c)).unwrap_err(),
                AuthError::InvalidToken
            );
        }
    }
}
