//! The scenario timeline: `[[event]]` tables, each with `at` (seconds from
//! the start of the run) and a `kind`, parsed and checked here; the runner
//! applies them (`runner/timeline.rs`).
//!
//! Adding a kind is local: a variant of [`EventKind`], an arm in
//! [`parse_kind`] taking the fields it needs with the `Fields` helpers (any
//! field it does not take is refused as unknown), its name and words in
//! [`EventKind::name`] and [`EventKind::describe`] (the compiler asks for
//! both), its name in `KINDS`, and an arm in the runner's `apply`
//! (`runner/timeline.rs`).

use crate::SimError;

/// One event of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Seconds from the start of the run (when the enclaves present from
    /// the start begin to run).
    pub at: f64,
    /// What happens.
    pub kind: EventKind,
}

/// What an event does.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// Builds the enclave (index into the scenario's enclaves) and starts
    /// its threads; an enclave with such an event does not start with the
    /// run.
    StartEnclave {
        /// The enclave.
        enclave: usize,
    },
    /// Destroys the enclave while its threads run, as killing its process
    /// would: the threads are sent out and every page is freed.
    StopEnclave {
        /// The enclave.
        enclave: usize,
    },
    /// Changes a group's limit (`misc.max`); lowering it below the group's
    /// usage reclaims down to it.
    SetMax {
        /// The group's path (a declared group, not the root).
        cgroup: String,
        /// The new limit in pages; `None` is unlimited (`"max"`).
        max: Option<u64>,
    },
    /// A memory failure: a resident page of `enclave` (the enclave dies
    /// when it next reads it), or with `enclave` `None` (`free = true`) a
    /// free page, which is never handed out again.
    Poison {
        /// The enclave whose resident page fails; `None`: a free page.
        enclave: Option<usize>,
    },
    /// A memory failure in a host page a VM holds (picked by the event's
    /// position among its vEPC pages backed then): the host's
    /// `memory_failure_vm` poisons it and the VM fails (as with SIGBUS),
    /// its guest enclaves lost with it.
    PoisonVm {
        /// The VM.
        vm: usize,
    },
    /// The EPC is lost (suspend and resume): every enclave of the run is
    /// killed with "EPC lost"; those with `restart = true` are rebuilt and
    /// run their workload again from its beginning.
    Suspend,
    /// Starts the VM (index into the scenario's VMs): its vEPC, its guest
    /// manager, then its enclaves; a VM with such an event does not start
    /// with the run.
    StartVm {
        /// The VM.
        vm: usize,
    },
    /// Stops the VM: its guest threads are stopped, then the host removes
    /// every vEPC page (two EREMOVE passes, leftovers to the zombie list)
    /// and takes its pages back.
    StopVm {
        /// The VM.
        vm: usize,
    },
    /// Reboots the VM's guest: its threads are stopped, every vEPC page is
    /// removed while the VM lives (the host's `REMOVE_ALL`), and the guest
    /// starts again on a fresh manager with its enclaves built from
    /// scratch.
    RebootVm {
        /// The VM.
        vm: usize,
    },
}

impl EventKind {
    /// The kind's name in scenario files and reports.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::StartEnclave { .. } => "start_enclave",
            EventKind::StopEnclave { .. } => "stop_enclave",
            EventKind::SetMax { .. } => "set_max",
            EventKind::Poison { .. } | EventKind::PoisonVm { .. } => "poison",
            EventKind::Suspend => "suspend",
            EventKind::StartVm { .. } => "start_vm",
            EventKind::StopVm { .. } => "stop_vm",
            EventKind::RebootVm { .. } => "reboot_vm",
        }
    }

    /// What the event does, in words, for reports (`s` gives the names).
    pub fn describe(&self, s: &super::Scenario) -> String {
        let name = |i: usize| s.enclaves.get(i).map_or("?", |e| e.name.as_str());
        match self {
            EventKind::StartEnclave { enclave } | EventKind::StopEnclave { enclave } => {
                format!("enclave {:?}", name(*enclave))
            }
            EventKind::SetMax { cgroup, max } => match max {
                Some(m) => format!("{cgroup} max {m} pages"),
                None => format!("{cgroup} max unlimited"),
            },
            EventKind::Poison { enclave: Some(i) } => {
                format!("a resident page of enclave {:?}", name(*i))
            }
            EventKind::Poison { enclave: None } => "a free page".to_owned(),
            EventKind::Suspend => "the EPC is lost".to_owned(),
            EventKind::StartVm { vm } | EventKind::StopVm { vm } | EventKind::RebootVm { vm } => {
                format!("VM {:?}", s.vms.get(*vm).map_or("?", |v| v.name.as_str()))
            }
            EventKind::PoisonVm { vm } => format!(
                "a host page VM {:?} holds",
                s.vms.get(*vm).map_or("?", |v| v.name.as_str())
            ),
        }
    }

    /// The enclave the event is about, if any.
    pub fn enclave(&self) -> Option<usize> {
        match self {
            EventKind::StartEnclave { enclave } | EventKind::StopEnclave { enclave } => {
                Some(*enclave)
            }
            EventKind::Poison { enclave } => *enclave,
            EventKind::SetMax { .. }
            | EventKind::Suspend
            | EventKind::PoisonVm { .. }
            | EventKind::StartVm { .. }
            | EventKind::StopVm { .. }
            | EventKind::RebootVm { .. } => None,
        }
    }

    /// The VM the event is about, if any.
    pub fn vm(&self) -> Option<usize> {
        match self {
            EventKind::StartVm { vm }
            | EventKind::StopVm { vm }
            | EventKind::RebootVm { vm }
            | EventKind::PoisonVm { vm } => Some(*vm),
            _ => None,
        }
    }

    /// The group the event is about, if any.
    pub fn cgroup(&self) -> Option<&str> {
        match self {
            EventKind::SetMax { cgroup, .. } => Some(cgroup),
            _ => None,
        }
    }
}

/// The kinds a scenario may use, for messages.
const KINDS: &str =
    "start_enclave, stop_enclave, set_max, poison, suspend, start_vm, stop_vm, reboot_vm";

/// What the events may refer to.
pub(super) struct Known<'a> {
    /// Host enclave names, in scenario order.
    pub(super) enclaves: &'a [String],
    /// VM names, in scenario order (distinct).
    pub(super) vms: &'a [String],
    /// Declared group paths (not the root).
    pub(super) cgroups: &'a [String],
    /// The run's length, if the scenario sets one.
    pub(super) duration: Option<f64>,
}

/// The fields of one `[[event]]` table, taken one by one; whatever is left
/// at the end is refused.
struct Fields {
    at: String,
    table: toml::Table,
}

type Bad = (String, String);

impl Fields {
    fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.at)
    }

    fn take(&mut self, name: &str) -> Result<toml::Value, Bad> {
        self.table
            .remove(name)
            .ok_or_else(|| (self.field(name), "missing".into()))
    }

    fn string(&mut self, name: &str) -> Result<String, Bad> {
        match self.take(name)? {
            toml::Value::String(s) => Ok(s),
            v => Err((self.field(name), format!("must be a string (got {v})"))),
        }
    }

    fn seconds(&mut self, name: &str) -> Result<f64, Bad> {
        match self.take(name)? {
            toml::Value::Float(x) => Ok(x),
            toml::Value::Integer(i) => Ok(i as f64),
            v => Err((self.field(name), format!("must be a number (got {v})"))),
        }
    }

    /// An enclave named by the field `name`.
    fn enclave(&mut self, name: &str, known: &Known<'_>) -> Result<usize, Bad> {
        let want = self.string(name)?;
        let mut hits = known
            .enclaves
            .iter()
            .enumerate()
            .filter(|(_, n)| **n == want);
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some(_), Some(_)) => Err((
                self.field(name),
                format!("two enclaves are named {want:?}: give them different names"),
            )),
            (None, _) => Err((
                self.field(name),
                format!(
                    "no enclave is named {want:?} (enclaves: {})",
                    known.enclaves.join(", ")
                ),
            )),
        }
    }

    /// A VM named by the field `name`.
    fn vm(&mut self, name: &str, known: &Known<'_>) -> Result<usize, Bad> {
        let want = self.string(name)?;
        known.vms.iter().position(|n| *n == want).ok_or_else(|| {
            (
                self.field(name),
                if known.vms.is_empty() {
                    format!("no VM is named {want:?} (the scenario has no [[vm]])")
                } else {
                    format!("no VM is named {want:?} (VMs: {})", known.vms.join(", "))
                },
            )
        })
    }

    /// A declared group (not the root) named by the field `name`.
    fn cgroup(&mut self, name: &str, known: &Known<'_>) -> Result<String, Bad> {
        let path = self.string(name)?;
        if path == super::cgroup::ROOT {
            return Err((
                self.field(name),
                "the root group has no limit to set".into(),
            ));
        }
        if !known.cgroups.contains(&path) {
            return Err((
                self.field(name),
                format!("no [[cgroup]] has the path {path:?}"),
            ));
        }
        Ok(path)
    }

    /// A boolean field, `false` if absent.
    fn flag(&mut self, name: &str) -> Result<bool, Bad> {
        match self.table.remove(name) {
            None => Ok(false),
            Some(toml::Value::Boolean(b)) => Ok(b),
            Some(v) => Err((self.field(name), format!("must be true or false (got {v})"))),
        }
    }

    /// A limit: pages or `"max"`.
    fn max(&mut self, name: &str) -> Result<Option<u64>, Bad> {
        let v = self.take(name)?;
        super::cgroup::parse_max(&v, &self.field(name))
    }

    /// Refuses the fields nobody took.
    fn finish(self, kind: &str) -> Result<(), Bad> {
        match self.table.keys().next() {
            Some(k) => Err((
                self.field(k),
                format!("unknown field for an event of kind {kind:?}"),
            )),
            None => Ok(()),
        }
    }
}

/// The kind of the event in `f` and the fields it needs.
fn parse_kind(kind: &str, f: &mut Fields, known: &Known<'_>) -> Result<EventKind, Bad> {
    Ok(match kind {
        "start_enclave" => EventKind::StartEnclave {
            enclave: f.enclave("enclave", known)?,
        },
        "stop_enclave" => EventKind::StopEnclave {
            enclave: f.enclave("enclave", known)?,
        },
        "set_max" => EventKind::SetMax {
            cgroup: f.cgroup("cgroup", known)?,
            max: f.max("max")?,
        },
        "poison" if f.table.contains_key("vm") => {
            if let Some(k) = ["enclave", "free"]
                .into_iter()
                .find(|k| f.table.contains_key(*k))
            {
                return Err((
                    f.field(k),
                    "give one of enclave = \"NAME\", free = true or vm = \"NAME\"".into(),
                ));
            }
            EventKind::PoisonVm {
                vm: f.vm("vm", known)?,
            }
        }
        "poison" => {
            let free = f.flag("free")?;
            match (free, f.table.contains_key("enclave")) {
                (true, false) => EventKind::Poison { enclave: None },
                (false, true) => EventKind::Poison {
                    enclave: Some(f.enclave("enclave", known)?),
                },
                (true, true) => {
                    return Err((
                        f.field("free"),
                        "give either enclave = \"NAME\" or free = true, not both".into(),
                    ))
                }
                (false, false) => {
                    return Err((
                        f.field("enclave"),
                        "missing (or free = true for a free page)".into(),
                    ))
                }
            }
        }
        "suspend" => EventKind::Suspend,
        "start_vm" => EventKind::StartVm {
            vm: f.vm("vm", known)?,
        },
        "stop_vm" => EventKind::StopVm {
            vm: f.vm("vm", known)?,
        },
        "reboot_vm" => EventKind::RebootVm {
            vm: f.vm("vm", known)?,
        },
        other => {
            return Err((
                f.field("kind"),
                format!("unknown event kind {other:?} (known: {KINDS})"),
            ))
        }
    })
}

/// Parses and checks the `[[event]]` tables; the events come back in time
/// order (events at the same time in file order).
pub(super) fn parse_events(
    raw: Vec<toml::Table>,
    known: &Known<'_>,
    origin: &str,
) -> Result<Vec<Event>, SimError> {
    let bad = |(field, why): Bad| SimError::input(format!("{origin}: {field}: {why}"));
    let mut events = Vec::new();
    for (i, table) in raw.into_iter().enumerate() {
        let mut f = Fields {
            at: format!("event[{i}]"),
            table,
        };
        let at = f.seconds("at").map_err(bad)?;
        if !(at.is_finite() && at >= 0.0) {
            return Err(bad((
                f.field("at"),
                format!("must be 0 or more (got {at})"),
            )));
        }
        if let Some(d) = known.duration.filter(|&d| at >= d) {
            return Err(bad((
                f.field("at"),
                format!("{at} is not inside the run (duration_seconds = {d})"),
            )));
        }
        let kind_name = f.string("kind").map_err(bad)?;
        let kind = parse_kind(&kind_name, &mut f, known).map_err(bad)?;
        f.finish(&kind_name).map_err(bad)?;
        events.push((i, Event { at, kind }));
    }
    check_enclave_lives(&events, known).map_err(bad)?;
    check_vm_lives(&events, known).map_err(bad)?;
    events.sort_by(|a, b| a.1.at.total_cmp(&b.1.at).then(a.0.cmp(&b.0)));
    Ok(events.into_iter().map(|(_, e)| e).collect())
}

/// Each enclave starts at most once and stops at most once, after it
/// starts.
fn check_enclave_lives(events: &[(usize, Event)], known: &Known<'_>) -> Result<(), Bad> {
    let n = known.enclaves.len();
    let mut start: Vec<Option<f64>> = vec![None; n];
    let mut stop: Vec<Option<(usize, f64)>> = vec![None; n];
    for (i, e) in events {
        let field = format!("event[{i}].enclave");
        if let EventKind::StartEnclave { enclave } = e.kind {
            if start[enclave].replace(e.at).is_some() {
                return Err((field, "this enclave already has a start_enclave".into()));
            }
        } else if let EventKind::StopEnclave { enclave } = e.kind {
            if stop[enclave].replace((*i, e.at)).is_some() {
                return Err((field, "this enclave already has a stop_enclave".into()));
            }
        }
    }
    for k in 0..n {
        if let Some((i, t)) = stop[k] {
            let s = start[k].unwrap_or(0.0);
            if t <= s {
                return Err((
                    format!("event[{i}].at"),
                    format!(
                        "enclave {:?} is stopped at {t} s, not after it starts ({s} s)",
                        known.enclaves[k]
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Each VM starts at most once and stops at most once, after it starts;
/// a reboot comes after its start and before its stop.
fn check_vm_lives(events: &[(usize, Event)], known: &Known<'_>) -> Result<(), Bad> {
    let n = known.vms.len();
    let mut start: Vec<Option<f64>> = vec![None; n];
    let mut stop: Vec<Option<f64>> = vec![None; n];
    for (i, e) in events {
        let field = format!("event[{i}].vm");
        match e.kind {
            EventKind::StartVm { vm } if start[vm].replace(e.at).is_some() => {
                return Err((field, "this VM already has a start_vm".into()))
            }
            EventKind::StopVm { vm } if stop[vm].replace(e.at).is_some() => {
                return Err((field, "this VM already has a stop_vm".into()))
            }
            _ => {}
        }
    }
    for (i, e) in events {
        let (vm, what) = match e.kind {
            EventKind::StopVm { vm } => (vm, "stopped"),
            EventKind::RebootVm { vm } => (vm, "rebooted"),
            _ => continue,
        };
        let s = start[vm].unwrap_or(0.0);
        let name = &known.vms[vm];
        if e.at <= s {
            return Err((
                format!("event[{i}].at"),
                format!(
                    "VM {name:?} is {what} at {} s, not after it starts ({s} s)",
                    e.at
                ),
            ));
        }
        if let Some(t) = stop[vm].filter(|&t| what == "rebooted" && e.at >= t) {
            return Err((
                format!("event[{i}].at"),
                format!(
                    "VM {name:?} is rebooted at {} s, not before it stops ({t} s)",
                    e.at
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, duration: Option<f64>) -> Result<Vec<Event>, String> {
        #[derive(serde::Deserialize)]
        struct T {
            event: Vec<toml::Table>,
        }
        let t: T = toml::from_str(text).unwrap();
        let names = ["a".to_owned(), "b".to_owned()];
        let vms = ["v".to_owned(), "w".to_owned()];
        let groups = ["/g".to_owned()];
        let known = Known {
            enclaves: &names,
            vms: &vms,
            cgroups: &groups,
            duration,
        };
        parse_events(t.event, &known, "s.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn events_come_back_in_time_order() {
        let ev = parse(
            "[[event]]\nat = 3\nkind = \"stop_enclave\"\nenclave = \"b\"\n\
             [[event]]\nat = 1.5\nkind = \"start_enclave\"\nenclave = \"b\"\n",
            Some(5.0),
        )
        .unwrap();
        assert_eq!(
            ev,
            vec![
                Event {
                    at: 1.5,
                    kind: EventKind::StartEnclave { enclave: 1 }
                },
                Event {
                    at: 3.0,
                    kind: EventKind::StopEnclave { enclave: 1 }
                },
            ]
        );
    }

    #[test]
    fn bad_events_name_the_field() {
        let one = |body: &str| parse(&format!("[[event]]\n{body}\n"), Some(10.0)).unwrap_err();
        let e = one("at = 1\nkind = \"explode\"");
        assert!(
            e.contains("s.toml: event[0].kind: unknown event kind"),
            "{e}"
        );
        let e = one("at = 1\nkind = \"stop_enclave\"\nenclave = \"c\"");
        assert!(
            e.contains("event[0].enclave: no enclave is named \"c\""),
            "{e}"
        );
        let e = one("at = 10\nkind = \"stop_enclave\"\nenclave = \"a\"");
        assert!(
            e.contains("event[0].at") && e.contains("not inside the run"),
            "{e}"
        );
        let e = one("at = -1\nkind = \"stop_enclave\"\nenclave = \"a\"");
        assert!(e.contains("event[0].at"), "{e}");
        let e = one("kind = \"stop_enclave\"\nenclave = \"a\"");
        assert!(e.contains("event[0].at: missing"), "{e}");
        let e = one("at = 1\nkind = \"stop_enclave\"\nenclave = \"a\"\nmax = 3");
        assert!(e.contains("event[0].max: unknown field"), "{e}");
        let e = one("at = 1\nkind = \"set_max\"\ncgroup = \"/h\"\nmax = 3");
        assert!(e.contains("event[0].cgroup: no [[cgroup]]"), "{e}");
        let e = one("at = 1\nkind = \"set_max\"\ncgroup = \"/\"\nmax = 3");
        assert!(e.contains("event[0].cgroup: the root"), "{e}");
        let e = one("at = 1\nkind = \"set_max\"\ncgroup = \"/g\"\nmax = -3");
        assert!(e.contains("event[0].max: must be"), "{e}");
        let e = one("at = 1\nkind = \"set_max\"\ncgroup = \"/g\"");
        assert!(e.contains("event[0].max: missing"), "{e}");
        let ev = parse(
            "[[event]]\nat = 1\nkind = \"set_max\"\ncgroup = \"/g\"\nmax = \"max\"\n",
            None,
        )
        .unwrap();
        assert_eq!(
            ev[0].kind,
            EventKind::SetMax {
                cgroup: "/g".into(),
                max: None
            }
        );
        let e = one("at = 1\nkind = \"stop_enclave\"\nenclave = 3");
        assert!(e.contains("event[0].enclave: must be a string"), "{e}");
        let e = parse(
            "[[event]]\nat = 4\nkind = \"start_enclave\"\nenclave = \"a\"\n\
             [[event]]\nat = 2\nkind = \"stop_enclave\"\nenclave = \"a\"\n",
            None,
        )
        .unwrap_err();
        assert!(
            e.contains("event[1].at") && e.contains("not after it starts"),
            "{e}"
        );
        let e = one("at = 1\nkind = \"poison\"");
        assert!(e.contains("event[0].enclave: missing"), "{e}");
        let e = one("at = 1\nkind = \"poison\"\nfree = true\nenclave = \"a\"");
        assert!(e.contains("event[0].free: give either"), "{e}");
        let e = one("at = 1\nkind = \"poison\"\nfree = 1");
        assert!(e.contains("event[0].free: must be true or false"), "{e}");
        let e = one("at = 1\nkind = \"suspend\"\nenclave = \"a\"");
        assert!(e.contains("event[0].enclave: unknown field"), "{e}");
        let ev = parse(
            "[[event]]\nat = 1\nkind = \"poison\"\nenclave = \"b\"\n\
             [[event]]\nat = 2\nkind = \"poison\"\nfree = true\n\
             [[event]]\nat = 3\nkind = \"suspend\"\n",
            None,
        )
        .unwrap();
        let kinds: Vec<EventKind> = ev.into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                EventKind::Poison { enclave: Some(1) },
                EventKind::Poison { enclave: None },
                EventKind::Suspend
            ]
        );
        // Without a duration, any time from 0 on is inside the run.
        assert!(parse(
            "[[event]]\nat = 1e6\nkind = \"stop_enclave\"\nenclave = \"a\"\n",
            None
        )
        .is_ok());
    }

    #[test]
    fn vm_events_parse_and_their_order_is_checked() {
        let ev = parse(
            "[[event]]\nat = 3\nkind = \"reboot_vm\"\nvm = \"w\"\n\
             [[event]]\nat = 1\nkind = \"start_vm\"\nvm = \"w\"\n\
             [[event]]\nat = 5\nkind = \"stop_vm\"\nvm = \"w\"\n\
             [[event]]\nat = 2\nkind = \"reboot_vm\"\nvm = \"v\"\n",
            None,
        )
        .unwrap();
        let kinds: Vec<EventKind> = ev.into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                EventKind::StartVm { vm: 1 },
                EventKind::RebootVm { vm: 0 },
                EventKind::RebootVm { vm: 1 },
                EventKind::StopVm { vm: 1 },
            ]
        );
        assert_eq!(kinds[3].vm(), Some(1));
        assert_eq!(kinds[3].name(), "stop_vm");
        let bad = |body: &str| parse(body, None).unwrap_err();
        let e = bad("[[event]]\nat = 1\nkind = \"stop_vm\"\nvm = \"x\"\n");
        assert!(
            e.contains("event[0].vm: no VM is named \"x\" (VMs: v, w)"),
            "{e}"
        );
        let e = bad("[[event]]\nat = 1\nkind = \"start_vm\"\n");
        assert!(e.contains("event[0].vm: missing"), "{e}");
        let e = bad("[[event]]\nat = 1\nkind = \"start_vm\"\nvm = \"v\"\nenclave = \"a\"\n");
        assert!(e.contains("event[0].enclave: unknown field"), "{e}");
        let e = bad("[[event]]\nat = 1\nkind = \"start_vm\"\nvm = \"v\"\n\
             [[event]]\nat = 2\nkind = \"start_vm\"\nvm = \"v\"\n");
        assert!(
            e.contains("event[1].vm: this VM already has a start_vm"),
            "{e}"
        );
        let e = bad("[[event]]\nat = 3\nkind = \"start_vm\"\nvm = \"v\"\n\
             [[event]]\nat = 2\nkind = \"reboot_vm\"\nvm = \"v\"\n");
        assert!(
            e.contains("event[1].at") && e.contains("not after it starts"),
            "{e}"
        );
        let e = bad("[[event]]\nat = 3\nkind = \"stop_vm\"\nvm = \"v\"\n\
             [[event]]\nat = 4\nkind = \"reboot_vm\"\nvm = \"v\"\n");
        assert!(
            e.contains("event[1].at") && e.contains("not before it stops"),
            "{e}"
        );
        let e = bad("[[event]]\nat = 1\nkind = \"poison\"\nvm = \"v\"\nfree = true\n");
        assert!(e.contains("event[0].free: give one of"), "{e}");
        let ev = parse("[[event]]\nat = 1\nkind = \"poison\"\nvm = \"w\"\n", None).unwrap();
        assert_eq!(ev[0].kind, EventKind::PoisonVm { vm: 1 });
        let e = bad("[[event]]\nat = 0\nkind = \"stop_vm\"\nvm = \"v\"\n");
        assert!(
            e.contains("event[0].at") && e.contains("not after it starts"),
            "{e}"
        );
    }
}
