//! zkCli.sh's output shapes: `stat` lines with Java's `Date.toString` times, ACLs as
//! `'scheme,'id` and `: perms`, lists as Java's `List.toString`, and the parsing of ACL
//! arguments (`scheme:id:perms[,...]`).

use std::fmt::Write as _;

use serde_json::{json, Value};
use zookeeper_client as zk;

/// `Date.toString()` in UTC: `Fri Dec 04 04:32:58 UTC 2026` (zkCli prints the JVM's time zone;
/// zab cli always prints UTC).
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds = ms.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    let month = MONTHS[(month - 1) as usize];
    format!("{weekday} {month} {day:02} {hour:02}:{minute:02}:{second:02} UTC {year}")
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31): Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// `StatPrinter`: one `name = value` line per field.
pub fn stat_text(stat: &zk::Stat) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cZxid = {:#x}\nctime = {}", stat.czxid, java_date(stat.ctime));
    let _ = writeln!(out, "mZxid = {:#x}\nmtime = {}", stat.mzxid, java_date(stat.mtime));
    let _ = writeln!(out, "pZxid = {:#x}\ncversion = {}", stat.pzxid, stat.cversion);
    let _ = writeln!(out, "dataVersion = {}\naclVersion = {}", stat.version, stat.aversion);
    let _ = writeln!(out, "ephemeralOwner = {:#x}\ndataLength = {}", stat.ephemeral_owner, stat.data_length);
    let _ = write!(out, "numChildren = {}", stat.num_children);
    out
}

/// A stat for `--json`.
pub fn stat_json(stat: &zk::Stat) -> Value {
    json!({
        "czxid": stat.czxid, "mzxid": stat.mzxid, "pzxid": stat.pzxid, "ctime": stat.ctime, "mtime": stat.mtime,
        "version": stat.version, "cversion": stat.cversion, "aversion": stat.aversion,
        "ephemeralOwner": stat.ephemeral_owner, "dataLength": stat.data_length, "numChildren": stat.num_children,
    })
}

/// Java's `List.toString`: `[a, b]`.
pub fn java_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// The permission letters in zkCli's order (`ZKUtil.getPermString`).
const PERMISSION_LETTERS: [(char, zk::Permission); 5] = [
    ('c', zk::Permission::CREATE),
    ('d', zk::Permission::DELETE),
    ('r', zk::Permission::READ),
    ('w', zk::Permission::WRITE),
    ('a', zk::Permission::ADMIN),
];

pub fn permission_text(permission: zk::Permission) -> String {
    PERMISSION_LETTERS.iter().filter(|(_, bit)| permission.has(*bit)).map(|(letter, _)| *letter).collect()
}

/// `getAcl`'s shape: `'scheme,'id` then `: perms`, per entry.
pub fn acl_text(acl: &[zk::Acl]) -> String {
    let lines: Vec<String> =
        acl.iter().map(|a| format!("'{},'{}\n: {}", a.scheme(), a.id(), permission_text(a.permission()))).collect();
    lines.join("\n")
}

pub fn acl_json(acl: &[zk::Acl]) -> Value {
    acl.iter()
        .map(|a| json!({ "scheme": a.scheme(), "id": a.id(), "perms": permission_text(a.permission()) }))
        .collect()
}

/// `AclParser.parse`: `scheme:id:perms` entries separated by commas; the id may hold colons
/// (`digest:user:hash`, `ip:::1`), the perms are the last field.
pub fn parse_acl(text: &str) -> Result<Vec<zk::Acl>, String> {
    let mut acl = Vec::new();
    for entry in text.split(',') {
        let first = entry.find(':');
        let last = entry.rfind(':');
        let (Some(first), Some(last)) = (first, last) else {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        };
        if first == last {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        }
        let mut permission = zk::Permission::NONE;
        for letter in entry[last + 1..].chars() {
            match PERMISSION_LETTERS.iter().find(|(l, _)| *l == letter) {
                Some((_, bit)) => permission = permission | *bit,
                None => return Err(format!("Unknown perm type: {letter}")),
            }
        }
        acl.push(zk::Acl::new(permission, zk::AuthId::new(&entry[..first], &entry[first + 1..last])));
    }
    Ok(acl)
}

/// zkCli's message for a server error on `path` (`KeeperException.getMessage` as
/// `CliWrapperException` rewrites it).
pub fn error_text(error: &zk::Error, path: &str) -> String {
    match error {
        zk::Error::NoNode => format!("Node does not exist: {path}"),
        zk::Error::NodeExists => format!("Node already exists: {path}"),
        zk::Error::NotEmpty => format!("Node not empty: {path}"),
        zk::Error::BadVersion => format!("version No is not valid : {path}"),
        zk::Error::NoAuth => format!("Insufficient permission : {path}"),
        zk::Error::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        zk::Error::InvalidAcl => format!("Acl is not valid : {path}"),
        zk::Error::AuthFailed => format!("Authentication is not valid : {path}"),
        zk::Error::NoWatcher => format!("KeeperErrorCode = No such watcher for {path}"),
        zk::Error::ClientClosed | zk::Error::SessionExpired | zk::Error::ConnectionLoss => {
            "Not connected: connect to a server first (connect host:port)".to_string()
        }
        other => format!("{other} (on {path})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates Java prints for known instants (`new Date(ms).toString()` with TZ=UTC).
    #[test]
    fn java_dates() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_796_358_778_000), "Fri Dec 04 04:32:58 UTC 2026");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn acls_parse_and_print_as_zkcli_does() {
        let acl = parse_acl("world:anyone:cdrwa,digest:u:ZjJl=:r,ip:::1:rw").expect("parses");
        assert_eq!(acl_text(&acl), "'world,'anyone\n: cdrwa\n'digest,'u:ZjJl=\n: r\n'ip,'::1\n: rw");
        assert!(parse_acl("world:anyone").is_err());
        assert!(parse_acl("world:anyone:q").is_err());
    }
}
