//! Record times from a field: seconds as a number, or an RFC 3339 time stamp.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// Seconds since the Unix epoch of an RFC 3339 time stamp (`2026-12-06T10:00:00.250Z`,
/// `2026-12-06T11:00:00+01:00`; a space for the `T` is accepted too).
pub fn parse_time_s(text: &str) -> Option<f64> {
    let text = text.trim();
    let parsed = OffsetDateTime::parse(text, &Rfc3339).or_else(|_| {
        // RFC 3339 itself allows a space for the `T` (section 5.6, NOTE).
        match text.as_bytes().get(10) {
            Some(b' ') => {
                let mut fixed = text.to_owned();
                fixed.replace_range(10..11, "T");
                OffsetDateTime::parse(&fixed, &Rfc3339)
            }
            _ => OffsetDateTime::parse(text, &Rfc3339),
        }
    });
    parsed.ok().map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        // 2026-12-06T10:00:00Z is 1 796 551 200 s after the epoch (date -d ... +%s).
        assert_eq!(parse_time_s("2026-12-06T10:00:00Z"), Some(1_796_551_200.0));
        assert_eq!(
            parse_time_s("2026-12-06T11:00:00+01:00"),
            Some(1_796_551_200.0)
        );
        assert_eq!(
            parse_time_s("2026-12-06 10:00:00.5Z"),
            Some(1_796_551_200.5)
        );
        assert_eq!(parse_time_s("yesterday"), None);
    }
}
