//! Which DNS provider serves a dns-01 order that names none: for each name, the provider with
//! the longest zone containing it (a more specific zone is the one that holds the records),
//! else the provider marked default. Every name of an order must land on one provider, since an
//! order has one. Pure: the caller gathers each provider's zone for each name (from its
//! configuration, or by asking the provider, e.g. an RFC 2136 nameserver's SOA).

use crate::{Error, Result};

/// One configured provider and, per name of the order (same order), the longest zone of it
/// that contains the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub zones: Vec<Option<String>>,
}

/// The id of the provider serving every one of `names`, or `invalid_request` on
/// `dns_provider_id` naming the candidates.
pub fn choose(names: &[String], candidates: &[Candidate]) -> Result<String> {
    let refuse = |message: String| Err(Error::invalid("dns_provider_id", message));
    if candidates.is_empty() {
        return refuse(
            "dns-01 needs a DNS provider and none is configured: create one \
             (POST /v1/pki/dns-providers) or name it in dns_provider_id"
                .to_owned(),
        );
    }
    let mut chosen: Vec<(&str, &Candidate)> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let longest = candidates
            .iter()
            .filter_map(|c| c.zones.get(i).cloned().flatten())
            .map(|zone| zone.len())
            .max();
        let winners: Vec<&Candidate> = match longest {
            Some(len) => candidates
                .iter()
                .filter(|c| c.zones.get(i).cloned().flatten().map(|z| z.len()) == Some(len))
                .collect(),
            None => candidates.iter().filter(|c| c.is_default).collect(),
        };
        match winners.as_slice() {
            [one] => chosen.push((name, one)),
            [] => {
                return refuse(format!(
                    "no DNS provider serves {name}: no provider's zone contains it and none is \
                     the default; candidates: {}. Give a provider its zones (\"zones\") or \
                     mark one \"default\", or name it in dns_provider_id",
                    describe(candidates)
                ));
            }
            several => {
                let zone = several[0].zones[i].as_deref().unwrap_or("(default)");
                return refuse(format!(
                    "{name} is served equally well by several DNS providers (zone {zone}): {}; \
                     name one in dns_provider_id",
                    several
                        .iter()
                        .map(|c| format!("{} ({})", c.name, c.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    let first = chosen
        .first()
        .map(|(_, c)| c.id.clone())
        .unwrap_or_default();
    if chosen.iter().any(|(_, c)| c.id != first) {
        return refuse(format!(
            "the names are served by different DNS providers ({}); an order uses one provider: \
             place one order per provider, or name one in dns_provider_id",
            chosen
                .iter()
                .map(|(name, c)| format!("{name} by {} ({})", c.name, c.id))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(first)
}

fn describe(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .map(|c| {
            let mut zones: Vec<&str> = c.zones.iter().flatten().map(String::as_str).collect();
            zones.sort_unstable();
            zones.dedup();
            if zones.is_empty() {
                format!("{} ({}, no zone known for these names)", c.name, c.id)
            } else {
                format!("{} ({}, zones {})", c.name, c.id, zones.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, is_default: bool, zones: &[Option<&str>]) -> Candidate {
        Candidate {
            id: id.into(),
            name: format!("{id}-name"),
            is_default,
            zones: zones.iter().map(|z| z.map(str::to_owned)).collect(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_longest_zone_wins_then_the_default() {
        let two = names(&["api.acme.example", "www.acme.example"]);
        let parent = candidate("p", false, &[Some("example"), Some("example")]);
        let child = candidate("c", false, &[Some("acme.example"), Some("acme.example")]);
        let default = candidate("d", true, &[None, None]);
        assert_eq!(
            choose(&two, &[parent.clone(), child.clone(), default.clone()]).unwrap(),
            "c"
        );
        assert_eq!(
            choose(&two, &[default.clone(), parent.clone()]).unwrap(),
            "p"
        );
        let none = candidate("n", false, &[None, None]);
        assert_eq!(choose(&two, &[none.clone(), default]).unwrap(), "d");
        let err = choose(&two, &[none]).unwrap_err().to_string();
        assert!(err.contains("n-name (n, no zone known"), "{err}");
    }

    #[test]
    fn ties_and_splits_are_refused_naming_the_candidates() {
        let one = names(&["api.acme.example"]);
        let a = candidate("a", false, &[Some("acme.example")]);
        let b = candidate("b", false, &[Some("acme.example")]);
        let err = choose(&one, &[a, b]).unwrap_err().to_string();
        assert!(
            err.contains("a-name (a)") && err.contains("b-name (b)"),
            "{err}"
        );
        let two = names(&["a.one.example", "b.two.example"]);
        let one_zone = candidate("1", false, &[Some("one.example"), None]);
        let two_zone = candidate("2", false, &[None, Some("two.example")]);
        let err = choose(&two, &[one_zone, two_zone]).unwrap_err().to_string();
        assert!(err.contains("different DNS providers"), "{err}");
        let err = choose(&one, &[]).unwrap_err().to_string();
        assert!(err.contains("none is configured"), "{err}");
    }
}
