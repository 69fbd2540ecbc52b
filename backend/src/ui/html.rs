//! HTML of the console: escaping, the page frame, and the pieces pages share.
//! Every value from a record goes through [`esc`]; nothing else is trusted.

use super::Visitor;
use crate::records::{Org, fmt_ts};

/// `s` safe as HTML text and as a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment (an id) safe in a URL.
pub fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The day of a unix time, `YYYY-MM-DD`.
pub fn day(unix: i64) -> String {
    fmt_ts(unix)[..10].to_string()
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(csrf: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(csrf))
}

/// The page frame: navigation, who is signed in, the sign-out form.
pub fn layout(title: &str, body: &str, visitor: Option<&Visitor>, now: i64) -> String {
    let nav = match visitor {
        None => String::new(),
        Some(v) => format!(
            r#"<nav aria-label="Console"><ul>
<li><a href="/ui/overview">Overview</a></li>
<li><a href="/ui/timeline">Expiry timeline</a></li>
<li><a href="/ui/campaigns">Access reviews</a></li>
<li><a href="/ui/audit">Audit trail</a></li>
</ul>
<p class="who">Signed in as <strong>{name}</strong> ({role}{org})</p>
<form method="post" action="/ui/logout">{csrf}<button type="submit">Sign out</button></form>
</nav>"#,
            name = esc(&v.actor.name),
            role = v.actor.role.as_str(),
            org = v
                .actor
                .org
                .as_deref()
                .map(|o| format!(", org {}", esc(o)))
                .unwrap_or_default(),
            csrf = csrf_field(&v.csrf),
        ),
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Partner registry</title>
<link rel="stylesheet" href="/ui/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><p class="brand"><a href="/ui/overview">Partner registry</a></p>{nav}</header>
<main id="main">
<h1>{title}</h1>
{body}
</main>
<footer><p>Registry time: <time datetime="{now}">{now}</time></p></footer>
</body>
</html>
"##,
        title = esc(title),
        now = fmt_ts(now),
    )
}

pub fn notice(text: &str) -> String {
    format!(r#"<p class="notice" role="alert">{}</p>"#, esc(text))
}

/// The sign-in form. The token field is a password field the browser does
/// not remember.
pub fn login(csrf: &str, problem: Option<&str>) -> String {
    format!(
        r#"{problem}<form method="post" action="/ui/login" class="login">
{csrf}
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required spellcheck="false">
<button type="submit">Sign in</button>
</form>
<p>Sign in with an API token (<code>prt_…</code>). The console sees and does what the token may through the API.</p>"#,
        problem = problem.map(notice).unwrap_or_default(),
        csrf = csrf_field(csrf),
    )
}

/// A table with a caption, a header row and escaped cells (cells given as
/// HTML already are marked by the caller with [`Cell::Html`]).
pub fn table(caption: &str, head: &[&str], rows: &[Vec<Cell>]) -> String {
    if rows.is_empty() {
        return format!(
            r#"<section><h2>{}</h2><p class="empty">None.</p></section>"#,
            esc(caption)
        );
    }
    let mut out = format!(
        r#"<section><h2>{}</h2><div class="scroll"><table><thead><tr>"#,
        esc(caption)
    );
    for h in head {
        out.push_str(&format!(r#"<th scope="col">{}</th>"#, esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str("<td>");
            out.push_str(&cell.html());
            out.push_str("</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
    out
}

/// One table cell.
pub enum Cell {
    Text(String),
    Html(String),
}

impl Cell {
    fn html(&self) -> String {
        match self {
            Cell::Text(t) => esc(t),
            Cell::Html(h) => h.clone(),
        }
    }
}

pub fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

pub fn link(href: &str, label: &str) -> Cell {
    Cell::Html(format!(r#"<a href="{}">{}</a>"#, esc(href), esc(label)))
}

/// A value or a dash.
pub fn or_dash(v: Option<String>) -> Cell {
    text(v.unwrap_or_else(|| "–".into()))
}

/// A `dl` of label and value pairs (values escaped).
pub fn facts(pairs: &[(&str, String)]) -> String {
    let mut out = String::from(r#"<dl class="facts">"#);
    for (k, v) in pairs {
        out.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
    }
    out.push_str("</dl>");
    out
}

/// One mark on the timeline.
pub struct Mark {
    pub at: i64,
    pub label: String,
    pub contract: bool,
}

/// The expiry timeline: one row per org over the twelve months from `now`,
/// its contract end as a bar's end and its clients' expiries as dots, with
/// today marked. Plain SVG; every label is also a `<title>` for screen readers.
pub fn timeline(rows: &[(&Org, Vec<Mark>)], now: i64) -> String {
    const LEFT: i64 = 160;
    const WIDTH: i64 = 760;
    const ROW: i64 = 34;
    const TOP: i64 = 40;
    let span = 365 * 86_400;
    let x = |t: i64| LEFT + ((t - now).clamp(0, span) * WIDTH) / span;
    let height = TOP + ROW * rows.len().max(1) as i64 + 20;
    let mut out = format!(
        r#"<figure><svg class="timeline" role="img" aria-labelledby="tl-title" viewBox="0 0 {w} {height}" xmlns="http://www.w3.org/2000/svg">
<title id="tl-title">Client expiries and contract ends over the next 12 months, by org; today is {today}</title>"#,
        w = LEFT + WIDTH + 60,
        today = day(now),
    );
    // Month ticks: the first of each month in the window.
    let start = time::OffsetDateTime::from_unix_timestamp(now)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    let mut month = start.replace_day(1).unwrap_or(start);
    for _ in 0..13 {
        month = next_month(month);
        let t = month.midnight().assume_utc().unix_timestamp();
        if t - now > span {
            break;
        }
        out.push_str(&format!(
            r#"<line class="tick" x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"/><text class="month" x="{x}" y="{label}">{m}</text>"#,
            x = x(t),
            top = TOP - 8,
            bottom = height - 20,
            label = TOP - 14,
            m = esc(&format!("{} {}", &format!("{:?}", month.month())[..3], month.year())),
        ));
    }
    for (i, (org, marks)) in rows.iter().enumerate() {
        let y = TOP + ROW * i as i64 + ROW / 2;
        out.push_str(&format!(
            r#"<g class="org-row"><a href="/ui/orgs/{id}"><text class="org" x="4" y="{ty}">{name}</text></a><line class="lane" x1="{LEFT}" y1="{y}" x2="{end}" y2="{y}"/>"#,
            ty = y + 4,
            id = seg(&org.id),
            name = esc(&org.profile.name),
            end = LEFT + WIDTH,
        ));
        for m in marks {
            let title = format!("<title>{}</title>", esc(&m.label));
            if m.contract {
                out.push_str(&format!(
                    r#"<rect class="contract-end" x="{}" y="{}" width="8" height="16">{title}</rect>"#,
                    x(m.at) - 4,
                    y - 8
                ));
            } else {
                out.push_str(&format!(
                    r#"<circle class="expiry" cx="{}" cy="{y}" r="5">{title}</circle>"#,
                    x(m.at)
                ));
            }
        }
        out.push_str("</g>");
    }
    out.push_str(&format!(
        r#"<line class="today" x1="{LEFT}" y1="{}" x2="{LEFT}" y2="{}"/><text class="today-label" x="{}" y="{}">today {}</text></svg>
<figcaption>Squares: contract ends. Dots: client expiries. Each row is an org; the line on the left is today ({}).</figcaption></figure>"#,
        TOP - 8,
        height - 20,
        LEFT + 4,
        height - 6,
        day(now),
        day(now),
    ));
    out
}

fn next_month(d: time::Date) -> time::Date {
    let (y, m) = if d.month() == time::Month::December {
        (d.year() + 1, time::Month::January)
    } else {
        (d.year(), d.month().next())
    };
    time::Date::from_calendar_date(y, m, 1).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_urls_are_escaped() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(seg("org_A1/../x y"), "org_A1%2F%2E%2E%2Fx%20y");
    }
}
