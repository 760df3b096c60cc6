//! The org's daily API budget as Salesforce reports it: the `Sforce-Limit-Info`
//! header on every REST answer and the `DailyApiRequests` entry of `/limits`.

/// Daily API calls used and allowed (a rolling 24-hour window on Salesforce's side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl ApiUsage {
    /// Calls left today; never underflows when an org is already past its allowance.
    pub fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }
}

/// Parses `Sforce-Limit-Info`, e.g. `api-usage=18/15000` or
/// `api-usage=25/5000; per-app-api-usage=17/250(appName=sample)`.
///
/// Only the org-wide `api-usage` part is read: it is the one the daily limit
/// (403 `REQUEST_LIMIT_EXCEEDED`) is enforced on. Anything unreadable gives `None`
/// rather than an error, because a missing budget reading must never stop a run by itself.
pub fn parse_limit_info(header: &str) -> Option<ApiUsage> {
    header
        .split([';', ','])
        .map(str::trim)
        .find_map(|part| part.strip_prefix("api-usage="))
        .and_then(|pair| {
            let (used, max) = pair.split_once('/')?;
            // A per-app part may trail without a separator in some copies of the docs.
            let max = max.split(|c: char| !c.is_ascii_digit()).next()?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                max: max.parse().ok()?,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_documented_forms() {
        assert_eq!(
            parse_limit_info("api-usage=18/15000"),
            Some(ApiUsage {
                used: 18,
                max: 15000
            })
        );
        assert_eq!(
            parse_limit_info(
                "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)"
            ),
            Some(ApiUsage {
                used: 25,
                max: 5000
            })
        );
        // The per-app part alone is not the org's budget.
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=x)"),
            None
        );
        assert_eq!(
            parse_limit_info(" per-app-api-usage=1/2(appName=x);api-usage=7/9 "),
            Some(ApiUsage { used: 7, max: 9 })
        );
    }

    #[test]
    fn garbage_is_none_and_remaining_saturates() {
        for bad in [
            "",
            "api-usage=",
            "api-usage=x/10",
            "api-usage=10",
            "api-usage=1/",
            "usage=1/2",
        ] {
            assert_eq!(parse_limit_info(bad), None, "{bad:?}");
        }
        assert_eq!(ApiUsage { used: 20, max: 15 }.remaining(), 0);
        assert_eq!(ApiUsage { used: 5, max: 15 }.remaining(), 10);
    }

    proptest! {
        #[test]
        fn round_trips_any_pair(used in any::<u64>(), max in any::<u64>(), app in "[a-z]{0,8}") {
            let header = if app.is_empty() {
                format!("api-usage={used}/{max}")
            } else {
                format!("api-usage={used}/{max}; per-app-api-usage=1/2(appName={app})")
            };
            prop_assert_eq!(parse_limit_info(&header), Some(ApiUsage { used, max }));
        }

        #[test]
        fn never_panics(s in ".{0,64}") {
            let _ = parse_limit_info(&s);
        }
    }
}
