//! Whether the process that owns a run is still alive.

/// The start time of a process in clock ticks since boot (field 22 of `/proc/PID/stat`).
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(19)?.parse().ok()
}

/// Whether `pid` is alive and, when `start` is known, is the same process (not a reused
/// PID) and not a zombie.
pub fn is_alive(pid: u32, start: Option<u64>) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3));
    if state == Some("Z") || state == Some("X") {
        return false;
    }
    start.is_none_or(|s| process_start_time(pid) == Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id();
        let start = process_start_time(me);
        assert!(start.is_some());
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start.map(|s| s + 1)));
        assert!(!is_alive(0, None));
    }
}
