//! The overview's expiry timeline, drawn here as SVG (no script, no library): for each week of
//! the coming 90 days, how many certificates expire and how many are due for renewal.

use maud::{Markup, html};
use time::{Duration, OffsetDateTime};

/// Weeks shown: 13 weeks cover the 90 days.
const WEEKS: usize = 13;
const WIDTH: i64 = 780;
const HEIGHT: i64 = 220;
const LEFT: i64 = 40;
const BOTTOM: i64 = 30;
const TOP: i64 = 16;

/// Counts per week from `now`: (expiring, due for renewal). Times before `now` count in the
/// first week (they are overdue), times beyond the 13th week are left out.
pub fn weekly(
    now: OffsetDateTime,
    expiries: &[OffsetDateTime],
    renewals: &[OffsetDateTime],
) -> Vec<(u32, u32)> {
    let mut weeks = vec![(0u32, 0u32); WEEKS];
    let index = |at: OffsetDateTime| {
        let weeks_ahead = ((at - now).whole_days().max(0) / 7) as usize;
        (weeks_ahead < WEEKS).then_some(weeks_ahead)
    };
    for at in expiries {
        if let Some(i) = index(*at) {
            weeks[i].0 += 1;
        }
    }
    for at in renewals {
        if let Some(i) = index(*at) {
            weeks[i].1 += 1;
        }
    }
    weeks
}

/// The chart: two bars per week (expiring, renewal due), a labelled axis, and a text
/// alternative that says the same in words.
pub fn timeline(now: OffsetDateTime, weeks: &[(u32, u32)]) -> Markup {
    let max = weeks
        .iter()
        .map(|(a, b)| (*a).max(*b))
        .max()
        .unwrap_or(0)
        .max(1) as i64;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT) / WEEKS as i64;
    let bar = (slot - 8) / 2;
    let y = |count: u32| TOP + plot_height - (count as i64 * plot_height / max);
    let summary: Vec<String> = weeks
        .iter()
        .enumerate()
        .filter(|(_, (a, b))| *a > 0 || *b > 0)
        .map(|(i, (a, b))| format!("week {}: {a} expiring, {b} renewal due", i + 1))
        .collect();
    let description = if summary.is_empty() {
        "No certificate expires or is due for renewal in the coming 90 days.".to_owned()
    } else {
        summary.join("; ")
    };
    html! {
        figure class="chart" {
            svg id="expiry-chart" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-labelledby="expiry-chart-title expiry-chart-desc" xmlns="http://www.w3.org/2000/svg" {
                title id="expiry-chart-title" { "Certificates expiring and due for renewal per week, next 90 days" }
                desc id="expiry-chart-desc" { (description) }
                line x1=(LEFT) y1=(TOP + plot_height) x2=(WIDTH) y2=(TOP + plot_height) stroke="#8a94a3" {}
                line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_height) stroke="#8a94a3" {}
                text x=(LEFT - 6) y=(TOP + 4) text-anchor="end" font-size="11" fill="#5b636e" { (max) }
                text x=(LEFT - 6) y=(TOP + plot_height) text-anchor="end" font-size="11" fill="#5b636e" { "0" }
                @for (i, (expiring, due)) in weeks.iter().enumerate() {
                    @let x = LEFT + 4 + i as i64 * slot;
                    @let start = now + Duration::weeks(i as i64);
                    rect class="expiring" x=(x) y=(y(*expiring)) width=(bar)
                        height=(TOP + plot_height - y(*expiring)) fill="#b42318" {
                        title { "week of " (start.date()) ": " (expiring) " expiring" }
                    }
                    rect class="renewal-due" x=(x + bar) y=(y(*due)) width=(bar)
                        height=(TOP + plot_height - y(*due)) fill="#0b5cad" {
                        title { "week of " (start.date()) ": " (due) " renewal due" }
                    }
                    @if i % 2 == 0 {
                        text x=(x + bar) y=(HEIGHT - 10) text-anchor="middle" font-size="11" fill="#5b636e" {
                            (start.date().month() as u8) "/" (start.date().day())
                        }
                    }
                }
            }
            figcaption {
                span class="badge bad" { "expiring" } " "
                span class="badge due" { "renewal due" } " "
                span class="muted" { "per week from today; overdue renewals count in the first week" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn counts_land_in_their_week_and_overdue_in_the_first() {
        let now = datetime!(2026-12-01 00:00 UTC);
        let weeks = weekly(
            now,
            &[
                now + Duration::days(1),
                now + Duration::days(15),
                now + Duration::days(200),
            ],
            &[now - Duration::days(3), now + Duration::days(8)],
        );
        assert_eq!(weeks.len(), WEEKS);
        assert_eq!(weeks[0], (1, 1));
        assert_eq!(weeks[1], (0, 1));
        assert_eq!(weeks[2], (1, 0));
        assert_eq!(
            weeks.iter().map(|w| w.0).sum::<u32>(),
            2,
            "200 days out is left out"
        );
    }

    #[test]
    fn the_chart_says_in_words_what_it_draws() {
        let now = datetime!(2026-12-01 00:00 UTC);
        let svg = timeline(now, &weekly(now, &[now + Duration::days(9)], &[])).into_string();
        assert!(svg.contains("week 2: 1 expiring, 0 renewal due"), "{svg}");
        assert_eq!(svg.matches("class=\"expiring\"").count(), WEEKS);
    }
}
