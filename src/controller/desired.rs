//! The desired state of one tenant. Pure: no I/O.
