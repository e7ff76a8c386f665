//! The HTTP sandbox: which hosts a plug-in may reach.
//!
//! Each entry of `allowed_hosts` is a glob (the `glob` crate's `Pattern`, as in the official
//! runtime) matched against the host of a URL: `*` allows every host, `*.example.com` every
//! subdomain of example.com (not example.com itself), `api.example.com` that host only. An
//! entry that is not a valid glob matches its exact text. An IPv6 address is written without
//! brackets (`::1`) or with them (`[::1]`), and matches that address literally: an entry with
//! a `:` is never a glob (as one, `[::1]` would be a character class matching the hosts `:`
//! and `1`). No entry denies everything.

/// Compiled `allowed_hosts` globs.
#[derive(Debug)]
pub(crate) struct AllowedHosts {
    patterns: Vec<glob::Pattern>,
}

impl AllowedHosts {
    /// Compiles the globs once for a request (and the redirects it follows).
    pub fn new(globs: &[String]) -> Self {
        let compile = |g: &String| {
            if g.contains(':') {
                let address = g.trim_start_matches('[').trim_end_matches(']');
                return glob::Pattern::new(&glob::Pattern::escape(address)).ok();
            }
            glob::Pattern::new(g)
                .or_else(|_| glob::Pattern::new(&glob::Pattern::escape(g)))
                .ok()
        };
        AllowedHosts {
            patterns: globs.iter().filter_map(compile).collect(),
        }
    }

    /// Whether `host` (as it appears in the URL, an IPv6 address in brackets; compared in
    /// lowercase) may be reached.
    pub fn allows(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.patterns.iter().any(|p| p.matches(&host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(globs: &[&str], host: &str) -> bool {
        let globs: Vec<String> = globs.iter().map(|g| g.to_string()).collect();
        AllowedHosts::new(&globs).allows(host)
    }

    #[test]
    fn deny_by_default() {
        assert!(!allowed(&[], "example.com"));
        assert!(!allowed(&[], ""));
    }

    #[test]
    fn star_allows_all() {
        assert!(allowed(&["*"], "example.com"));
        assert!(allowed(&["*"], "127.0.0.1"));
    }

    #[test]
    fn subdomain_globs() {
        let globs = ["*.example.com"];
        assert!(allowed(&globs, "api.example.com"));
        assert!(allowed(&globs, "a.b.example.com"));
        assert!(!allowed(&globs, "example.com"));
        assert!(!allowed(&globs, "example.com.evil.org"));
        assert!(!allowed(&globs, "evilexample.com"));
    }

    #[test]
    fn exact_hosts_ignore_case() {
        assert!(allowed(&["api.example.com"], "API.Example.COM"));
        assert!(!allowed(&["api.example.com"], "api.example.co"));
    }

    #[test]
    fn ipv6_addresses_match_literally() {
        for entry in ["::1", "[::1]"] {
            assert!(allowed(&[entry], "[::1]"), "{entry}");
            assert!(!allowed(&[entry], "1"), "{entry}");
            assert!(!allowed(&[entry], ":"), "{entry}");
            assert!(!allowed(&[entry], "[::2]"), "{entry}");
        }
        assert!(allowed(&["*"], "[::1]"));
    }

    #[test]
    fn invalid_globs_match_their_text() {
        // `[` opens a character class that never closes: not a valid glob.
        assert!(allowed(&["odd[host"], "odd[host"));
        assert!(!allowed(&["odd[host"], "oddhost"));
    }
}
