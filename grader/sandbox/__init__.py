"""Running untrusted student code: a stripped library, a whitelisted chroot, rlimits, another uid."""
