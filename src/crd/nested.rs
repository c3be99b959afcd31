//! `spec.nestedGroups` of a ScimTenant: whether SCIM groups listing other
//! groups as members grant those groups' members, and how deep.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The deepest nesting a tenant may ask for: every change to a group
/// recomputes the groups containing it up to this many levels up.
pub const MAX_NESTING_DEPTH: u32 = 32;

/// Nested groups: a SCIM group member that is itself a group (its `value`
/// is the id of a group of the same tenant). Off by default, so that an
/// upgrade never widens access: once on, whoever can add a group to a
/// group at the identity provider grants the outer group's roles to every
/// member of the inner one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NestedGroups {
    /// Expand member groups: bindings and the directory list a group's
    /// effective members, its own user members and those of its member
    /// groups, transitively. A cycle (A lists B, B lists A) is reported
    /// (`GroupCycle`) and expanded once.
    #[serde(default)]
    pub enabled: bool,
    /// How many levels of member groups are expanded (1: the members of
    /// member groups count, not those of their member groups). Groups
    /// deeper than this grant nothing through the outer group and are
    /// reported (`NestingTooDeep`). 1 to 32.
    #[serde(default = "default_max_depth")]
    #[schemars(range(min = 1, max = 32))]
    pub max_depth: u32,
}

impl Default for NestedGroups {
    fn default() -> Self {
        Self {
            enabled: false,
            max_depth: default_max_depth(),
        }
    }
}

impl NestedGroups {
    /// Whether this is the default (left out when serialized).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Levels to expand: 0 when off; `maxDepth` within 1 to
    /// [`MAX_NESTING_DEPTH`] (the schema refuses other values, but an
    /// object written before the schema had them is clamped, not trusted).
    pub fn depth(&self) -> usize {
        if self.enabled {
            self.max_depth.clamp(1, MAX_NESTING_DEPTH) as usize
        } else {
            0
        }
    }
}

fn default_max_depth() -> u32 {
    8
}
