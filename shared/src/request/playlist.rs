//! A playlist request's query string: `pb` (the playback pass), and LL-HLS's directives —
//! `_HLS_msn`/`_HLS_part` for a blocking reload, `_HLS_skip=YES` for a delta update (RFC
//! 8216bis §6.2.5). Other parameters are ignored, as players add their own (cache busters).

use serde::Deserialize;

/// A query that reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PlaylistQuery {
    /// The playback pass, as sent (checked against its signature by the server).
    pub pb: Option<String>,
    /// Hold the answer until this segment (or part of it) is listed.
    pub reload: Option<BlockingReload>,
    /// Skip the older segments (`_HLS_skip=YES`).
    pub delta: bool,
}

/// `_HLS_msn`, and `_HLS_part` if given.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct BlockingReload {
    pub msn: u64,
    pub part: Option<u64>,
}

/// Why a query is refused (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("the query string does not read: {0}")]
    Malformed(String),
    #[error("_HLS_skip must be YES")]
    Skip,
    #[error("_HLS_part needs _HLS_msn")]
    PartWithoutMsn,
}

#[derive(Deserialize)]
struct Raw {
    pb: Option<String>,
    #[serde(rename = "_HLS_msn")]
    msn: Option<u64>,
    #[serde(rename = "_HLS_part")]
    part: Option<u64>,
    #[serde(rename = "_HLS_skip")]
    skip: Option<String>,
}

impl PlaylistQuery {
    /// Reads a query string (without its `?`).
    pub fn parse(query: &str) -> Result<Self, QueryError> {
        let raw: Raw = serde_urlencoded::from_str(query).map_err(|error| {
            // The message quotes no input: it goes back to whoever sent it, and to logs.
            QueryError::Malformed(error.to_string().chars().take(120).collect())
        })?;
        let delta = match raw.skip.as_deref() {
            None => false,
            Some("YES") => true,
            Some(_) => return Err(QueryError::Skip),
        };
        let reload = match (raw.msn, raw.part) {
            (Some(msn), part) => Some(BlockingReload { msn, part }),
            (None, Some(_)) => return Err(QueryError::PartWithoutMsn),
            (None, None) => None,
        };
        Ok(Self {
            pb: raw.pb,
            reload,
            delta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_read_and_other_parameters_ignored() {
        assert_eq!(PlaylistQuery::parse(""), Ok(PlaylistQuery::default()));
        assert_eq!(
            PlaylistQuery::parse("_HLS_msn=12&_HLS_part=3&_HLS_skip=YES&pb=pb_x.1&t=99"),
            Ok(PlaylistQuery {
                pb: Some("pb_x.1".into()),
                reload: Some(BlockingReload {
                    msn: 12,
                    part: Some(3)
                }),
                delta: true,
            })
        );
        assert_eq!(
            PlaylistQuery::parse("_HLS_msn=7").unwrap().reload,
            Some(BlockingReload { msn: 7, part: None })
        );
    }

    #[test]
    fn broken_directives_are_refused() {
        assert_eq!(PlaylistQuery::parse("_HLS_skip=v2"), Err(QueryError::Skip));
        assert_eq!(
            PlaylistQuery::parse("_HLS_part=1"),
            Err(QueryError::PartWithoutMsn)
        );
        assert!(matches!(
            PlaylistQuery::parse("_HLS_msn=-1"),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(
            PlaylistQuery::parse("_HLS_msn=18446744073709551616"),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(
            PlaylistQuery::parse("pb=a&pb=b"),
            Err(QueryError::Malformed(_))
        ));
    }
}
