//! Contact caps: how many messages a customer may get per period, across dialogues.

use super::{Cap, DeferReason};

/// When a message over its caps may go out: `t` itself if no cap bites, else the earliest
/// later instant at which every cap has room. `sent` holds (time, channel) of planned
/// messages, including ones already planned for later (deferred): adding a message must not
/// overfill any window, before or after it.
pub fn cap_room(caps: &[Cap], sent: &[(i64, &str)], channel: &str, t: i64) -> (i64, Option<DeferReason>) {
    let fits = |cap: &Cap, w: i64| {
        let times: Vec<i64> =
            sent.iter().filter(|(_, ch)| cap.channel.as_deref().is_none_or(|c| c == *ch)).map(|(at, _)| *at).collect();
        // Every window (x - per, x] that holds w ends at w or at a later message before w + per.
        std::iter::once(w)
            .chain(times.iter().copied().filter(|&x| x >= w && x < w + cap.per))
            .all(|x| times.iter().filter(|&&y| y > x - cap.per && y <= x).count() < cap.max as usize)
    };
    let relevant: Vec<&Cap> = caps.iter().filter(|c| c.channel.as_deref().is_none_or(|ch| ch == channel)).collect();
    let bitten = relevant.iter().find(|c| !fits(c, t)).map(|c| DeferReason::Cap((*c).clone()));
    if bitten.is_none() {
        return (t, None);
    }
    // Room can only open when a planned message leaves a window.
    let mut candidates: Vec<i64> =
        relevant.iter().flat_map(|c| sent.iter().map(move |(at, _)| at + c.per)).filter(|&x| x > t).collect();
    candidates.sort_unstable();
    candidates.dedup();
    for w in candidates {
        if relevant.iter().all(|c| fits(c, w)) {
            return (w, bitten);
        }
    }
    // Unreachable in practice: after the last message plus the longest window all caps are free.
    let last = sent.iter().map(|(at, _)| *at).max().unwrap_or(t);
    (last + relevant.iter().map(|c| c.per).max().unwrap_or(0), bitten)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DAY;

    fn caps() -> Vec<Cap> {
        vec![Cap { max: 1, per: DAY, channel: None }, Cap { max: 2, per: 7 * DAY, channel: None }]
    }

    #[test]
    fn caps_defer_to_the_first_instant_with_room() {
        let sent = [(0, "email")];
        assert_eq!(cap_room(&caps(), &sent, "email", 100).0, DAY);
        let sent = [(0, "email"), (DAY, "email")];
        assert_eq!(cap_room(&caps(), &sent, "email", DAY + 5).0, 7 * DAY);
        assert_eq!(cap_room(&caps(), &[], "email", 5), (5, None));
        // A message already planned for later also counts: day 3 is full, so day 2.5 must wait.
        let sent = [(3 * DAY, "email")];
        assert_eq!(cap_room(&caps(), &sent, "email", 2 * DAY + 50_000).0, 4 * DAY);
    }

    #[test]
    fn a_channel_cap_leaves_other_channels_alone() {
        let caps = vec![Cap { max: 1, per: DAY, channel: Some("sms".into()) }];
        let sent = [(0, "sms")];
        assert_eq!(cap_room(&caps, &sent, "email", 10), (10, None));
        let (at, bitten) = cap_room(&caps, &sent, "sms", 10);
        assert_eq!(at, DAY);
        assert_eq!(bitten.map(|b| b.to_string()).as_deref(), Some("cap 1 sms per 1d"));
    }
}
