//! The asset formats of SPEC §3, as pure functions from bytes to bytes: no files, no keys.
//! The steps (`step/tiles.rs`, `step/sounds.rs`, `step/tilemap.rs`) wire them into the build.

pub mod palette;
pub mod sounds;
pub mod tiled;
pub mod tiles;
