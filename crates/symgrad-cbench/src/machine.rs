//! The header every bench prints before its table: CPU model, the vector
//! extensions detected at run time, the C compiler, and the date (UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// "machine: AMD EPYC, 2 logical CPUs; vector extensions: sse4.2 avx avx2
/// fma avx512f; C baseline: ...; date: 2026-12-01 23:10 UTC".
pub fn machine_header() -> String {
    let model = cpu_model().unwrap_or_else(|| "unknown CPU".to_string());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "machine: {model}, {cpus} logical CPUs; vector extensions detected at run time: {}\n\
         C baseline: {}\ndate: {}",
        vector_extensions(),
        crate::CBaselines::describe(),
        utc_now()
    )
}

/// Prints [`machine_header`] framed by blank lines, before a bench's table.
pub fn print_machine_header(bench: &str) {
    println!("\n== {bench} ==\n{}\n", machine_header());
}

/// The `model name` line of /proc/cpuinfo (Linux); `None` elsewhere.
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// The extensions among sse4.2, avx, avx2, fma and avx512f this CPU has.
fn vector_extensions() -> String {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let found: Vec<&str> = [
            ("sse4.2", std::is_x86_feature_detected!("sse4.2")),
            ("avx", std::is_x86_feature_detected!("avx")),
            ("avx2", std::is_x86_feature_detected!("avx2")),
            ("fma", std::is_x86_feature_detected!("fma")),
            ("avx512f", std::is_x86_feature_detected!("avx512f")),
        ]
        .into_iter()
        .filter_map(|(name, has)| has.then_some(name))
        .collect();
        if found.is_empty() {
            "none of sse4.2/avx/avx2/fma/avx512f".to_string()
        } else {
            found.join(" ")
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        format!(
            "({} : x86 extensions not applicable)",
            std::env::consts::ARCH
        )
    }
}

/// The current time as "YYYY-MM-DD HH:MM UTC", from the system clock.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Year, month, day of the proleptic Gregorian calendar for a count of days
/// since 1970-01-01 (H. Hinnant's days-to-civil arithmetic: 400-year eras of
/// 146,097 days, with years counted from March so leap days come last).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2000-02-29 is day 11,016; 2026-12-01 is day 20,788 (`date -d
        // 2026-12-01 +%s` / 86400).
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
