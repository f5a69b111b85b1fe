//! Messages per week by channel as a stacked bar chart, drawn with `plotters` into SVG text
//! (its SVG backend writes `<text>` elements: no font files, no C libraries).

use std::collections::BTreeMap;

use plotters::prelude::*;

use crate::dialogue::Plan;
use crate::engine::Stats;
use crate::input::time::local_day;

/// At most this many bars: longer spans are drawn with several weeks per bar.
const MAX_BARS: usize = 160;
const WIDTH: u32 = 1100;
const HEIGHT: u32 = 340;

/// Okabe–Ito colours, distinguishable with colour blindness; channels take them in name order.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

/// Messages per bar (one or more weeks) and channel, split into those up to as-of and those
/// scheduled after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weekly {
    /// First local day (a Monday, days since the epoch) of each bar, consecutive.
    pub weeks: Vec<i64>,
    /// Weeks per bar.
    pub bucket: i64,
    pub channels: Vec<String>,
    /// `[bar][channel]`: (up to as-of, scheduled).
    pub counts: Vec<Vec<(u64, u64)>>,
    /// The local day of as-of.
    pub as_of_day: i64,
    /// Palette index of each channel (the same channel has the same colour in every chart).
    colours: Vec<usize>,
}

/// The Monday of the week holding local day `day` (1970-01-01 was a Thursday).
pub fn monday(day: i64) -> i64 {
    day - (day + 3).rem_euclid(7)
}

/// A local day number as `YYYY-MM-DD`.
pub fn day_label(day: i64) -> String {
    chrono::NaiveDate::default()
        .checked_add_signed(chrono::TimeDelta::days(day))
        .map_or_else(|| day.to_string(), |d| d.to_string())
}

impl Weekly {
    /// The messages of dialogue `only` (None: all dialogues) from the engine's counts.
    pub fn from_stats(stats: &Stats, plan: &Plan, only: Option<usize>, as_of: i64, tz: chrono_tz::Tz) -> Weekly {
        let mut all: Vec<&str> = plan
            .dialogues
            .iter()
            .flat_map(|d| d.steps.iter())
            .flat_map(|s| s.ladder.iter())
            .flat_map(|m| m.variants.iter())
            .flat_map(|v| v.channels.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        let mut per: BTreeMap<(i64, &str), (u64, u64)> = BTreeMap::new();
        for (k, n) in stats.sent.iter() {
            if only.is_some_and(|d| d != k.dialogue) {
                continue;
            }
            let ch = plan.dialogues[k.dialogue].steps[k.step].ladder[k.attempt].variants[k.variant].channels[k.channel]
                .as_str();
            let e = per.entry((monday(k.day), ch)).or_default();
            if k.scheduled {
                e.1 += n;
            } else {
                e.0 += n;
            }
        }
        let as_of_day = local_day(as_of, tz);
        let mut channels: Vec<&str> = per.keys().map(|(_, c)| *c).collect();
        channels.sort_unstable();
        channels.dedup();
        let colours = channels.iter().map(|c| all.iter().position(|a| a == c).unwrap_or(0) % PALETTE.len()).collect();
        let (first, last) = match (per.keys().next(), per.keys().next_back()) {
            (Some((a, _)), Some((b, _))) => (*a, *b),
            _ => (monday(as_of_day), monday(as_of_day)),
        };
        let span = (last - first) / 7 + 1;
        let bucket = (span + MAX_BARS as i64 - 1) / MAX_BARS as i64;
        let bars = ((span + bucket - 1) / bucket) as usize;
        let weeks: Vec<i64> = (0..bars as i64).map(|b| first + b * 7 * bucket).collect();
        let mut counts = vec![vec![(0, 0); channels.len()]; bars];
        for ((wk, ch), (past, sched)) in per {
            let b = (((wk - first) / 7) / bucket) as usize;
            let c = channels.binary_search(&ch).unwrap_or(0);
            counts[b][c].0 += past;
            counts[b][c].1 += sched;
        }
        Weekly {
            weeks,
            bucket,
            channels: channels.into_iter().map(str::to_owned).collect(),
            counts,
            as_of_day,
            colours,
        }
    }

    /// Whether bar `first_day`'s weeks hold scheduled messages.
    pub fn scheduled_in(&self, first_day: i64) -> bool {
        self.weeks.iter().position(|&w| w == first_day).is_some_and(|b| self.counts[b].iter().any(|c| c.1 > 0))
    }

    fn total(&self, b: usize) -> u64 {
        self.counts[b].iter().map(|(a, s)| a + s).sum()
    }
}

/// A y-axis top that reads well: 1, 2, 5 × 10^k above the highest bar.
fn nice_top(max: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// The chart's legend as HTML: a swatch per channel, and what the lighter bars are.
pub fn legend(w: &Weekly) -> String {
    let mut s = String::from("<div class=\"legend\">");
    for (c, ch) in w.channels.iter().enumerate() {
        let RGBColor(r, g, b) = PALETTE[w.colours[c]];
        s.push_str(&format!("<span><i style=\"background:rgb({r},{g},{b})\"></i>{}</span>", super::html::esc(ch)));
    }
    if w.counts.iter().flatten().any(|c| c.1 > 0) {
        s.push_str("<span><i class=\"light\"></i>lighter, right of the as-of line: scheduled</span>");
    }
    if w.channels.is_empty() {
        s.push_str("<span>no message goes out</span>");
    }
    s.push_str("</div>");
    s
}

/// The chart as an SVG element (or a note saying why it could not be drawn).
pub fn svg(w: &Weekly, title: &str) -> String {
    let mut buf = String::new();
    match draw(w, title, &mut buf) {
        Ok(()) => {
            // The backend writes an XML prolog-less <svg>; make it scale with the page.
            buf.replacen("<svg ", &format!("<svg role=\"img\" aria-label=\"{}\" ", super::html::esc(title)), 1)
        }
        Err(e) => format!("<p class=\"note\">The chart could not be drawn: {}</p>", super::html::esc(&e)),
    }
}

fn draw(w: &Weekly, title: &str, buf: &mut String) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let root = SVGBackend::with_string(buf, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let bars = w.weeks.len();
    let max = (0..bars).map(|b| w.total(b)).max().unwrap_or(0);
    let top = nice_top(max + max / 8);
    let per = if w.bucket == 1 { "week".to_owned() } else { format!("{} weeks", w.bucket) };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 17).into_font().color(&RGBColor(29, 35, 48)))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(62)
        .build_cartesian_2d(0f64..bars as f64, 0u64..top)
        .map_err(err)?;
    let weeks = w.weeks.clone();
    let x_fmt = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 1e-9 || i < 0.0 || i as usize >= weeks.len() {
            return String::new();
        }
        day_label(weeks[i as usize])
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(226, 230, 237))
        .x_labels(7)
        .y_labels(6)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|y: &u64| y.to_string())
        .x_desc(format!("week starting (Monday, local time); one bar per {per}"))
        .y_desc(format!("messages per {per}"))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    let mut base = vec![0u64; bars];
    for (c, ch) in w.channels.iter().enumerate() {
        let colour = PALETTE[w.colours[c]];
        let mut rects = Vec::new();
        for (b, base) in base.iter_mut().enumerate() {
            let (past, sched) = w.counts[b][c];
            let (x0, x1) = (b as f64 + 0.12, b as f64 + 0.88);
            if past > 0 {
                rects.push(Rectangle::new([(x0, *base), (x1, *base + past)], colour.filled()));
                *base += past;
            }
            if sched > 0 {
                rects.push(Rectangle::new([(x0, *base), (x1, *base + sched)], colour.mix(0.45).filled()));
                *base += sched;
            }
        }
        let _ = ch;
        chart.draw_series(rects).map_err(err)?;
    }
    // The as-of line: bars right of it are scheduled (drawn lighter).
    let first = w.weeks.first().copied().unwrap_or(w.as_of_day);
    let x = ((w.as_of_day - first) as f64 / (7 * w.bucket) as f64).clamp(0.0, bars as f64);
    let ink = RGBColor(29, 35, 48);
    chart.draw_series(std::iter::once(PathElement::new(vec![(x, 0), (x, top)], ink.stroke_width(1)))).map_err(err)?;
    // The label sits beside the line, inside the plot, a little below its top edge.
    let right = x > bars as f64 * 0.7;
    let nudge = (bars as f64 / 150.0).max(0.15);
    chart
        .draw_series(std::iter::once(Text::new(
            "as of",
            (if right { x - nudge } else { x + nudge }, top - top / 40),
            ("sans-serif", 12).into_font().color(&ink).pos(plotters::style::text_anchor::Pos::new(
                if right {
                    plotters::style::text_anchor::HPos::Right
                } else {
                    plotters::style::text_anchor::HPos::Left
                },
                plotters::style::text_anchor::VPos::Top,
            )),
        )))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_and_scale_nicely() {
        // 2025-01-06 was a Monday.
        let mon = chrono::NaiveDate::from_ymd_opt(2025, 1, 6)
            .unwrap()
            .signed_duration_since(chrono::NaiveDate::default())
            .num_days();
        for k in 0..7 {
            assert_eq!(monday(mon + k), mon);
        }
        assert_eq!(monday(mon - 1), mon - 7);
        assert_eq!(day_label(mon), "2025-01-06");
        assert_eq!(
            [nice_top(0), nice_top(1), nice_top(3), nice_top(7), nice_top(11), nice_top(250)],
            [1, 1, 5, 10, 20, 500]
        );
    }
}
