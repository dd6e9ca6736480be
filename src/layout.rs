//! Names of the files packer reads and writes in a workspace, for the modules below the
//! stages that own them (a pattern's walk must know an asset root when it sees one).

/// The file that marks an asset root: its declaration.
pub const DECLARATION: &str = "asset.json";
