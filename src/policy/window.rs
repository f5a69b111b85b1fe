//! Send windows: the next instant a channel may be used, in the customer's time zone.

use chrono::{DateTime, Datelike, NaiveTime, Timelike};
use chrono_tz::Tz;

use super::Window;

impl Window {
    /// The next instant at or after `t` inside this window, in `tz`.
    pub fn next(&self, t: i64, tz: Tz) -> i64 {
        let w = self;
        if !w.days.iter().any(|d| *d) {
            return t;
        }
        let Some(utc) = DateTime::from_timestamp(t, 0) else { return t };
        let local = utc.with_timezone(&tz);
        let mut day = local.date_naive();
        let secs = local.num_seconds_from_midnight();
        for k in 0..8 {
            let wd = day.weekday().num_days_from_monday() as usize;
            if w.days[wd] {
                let start = if k == 0 && secs > w.from {
                    if secs <= w.to {
                        return t;
                    }
                    // A window whose end the clocks skipped today (02:30 on a spring-forward
                    // day) ends where that wall time is read: at or after `t`, `t` is inside.
                    let end =
                        day.and_time(NaiveTime::from_num_seconds_from_midnight_opt(w.to, 0).unwrap_or(NaiveTime::MIN));
                    if crate::input::time::local_to_utc(end, tz) >= t {
                        return t;
                    }
                    None
                } else {
                    Some(w.from)
                };
                if let Some(start) = start {
                    let naive =
                        day.and_time(NaiveTime::from_num_seconds_from_midnight_opt(start, 0).unwrap_or(NaiveTime::MIN));
                    let at = crate::input::time::local_to_utc(naive, tz);
                    return at.max(t);
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => return t,
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use crate::model::HOUR;

    #[test]
    fn windows_move_to_the_next_allowed_time() {
        let mut p = Policy::default();
        p.windows.insert(
            "phone".into(),
            Window { days: [true, true, true, true, true, false, false], from: 9 * HOUR as u32, to: 18 * HOUR as u32 },
        );
        p.windows.insert("email".into(), Window { days: [true; 7], from: 9 * HOUR as u32, to: 9 * HOUR as u32 });
        let utc = Tz::UTC;
        let iso = |s: &str| crate::input::time::parse_iso(s, utc).unwrap();
        // 2025-01-04 is a Saturday.
        assert_eq!(p.next_in_window("phone", iso("2025-01-04T12:00:00Z"), utc), iso("2025-01-06T09:00:00Z"));
        let tue_10 = iso("2025-01-07T10:00:00Z");
        assert_eq!(p.next_in_window("phone", tue_10, utc), tue_10);
        assert_eq!(p.next_in_window("email", tue_10, utc), iso("2025-01-08T09:00:00Z"));
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(p.next_in_window("email", iso("2025-01-07T15:00:00Z"), ny), iso("2025-01-08T14:00:00Z"));
        assert_eq!(p.next_in_window("sms", tue_10, utc), tue_10);
        // 02:30 does not exist in New York on 2025-03-09: it is read as 03:30 EDT (07:30Z),
        // and that instant is the day's window, not a reason to wait a day more.
        p.windows.insert("late".into(), Window { days: [true; 7], from: 9000, to: 9000 });
        let spring = iso("2025-03-09T07:30:00Z");
        assert_eq!(p.next_in_window("late", iso("2025-03-08T12:00:00Z"), ny), spring);
        assert_eq!(p.next_in_window("late", spring, ny), spring, "a found window time stays found");
        assert_eq!(p.next_in_window("late", spring + 1, ny), iso("2025-03-10T06:30:00Z"));
    }
}
