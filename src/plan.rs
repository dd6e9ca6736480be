//! The plan stage: workspace → graph → keys, as a library stage. gen writes what it plans;
//! `status` compares with it; a tilemap step run by hand takes its key from it. Nothing here
//! writes a file.

use crate::diag::Blocked;
use crate::fingerprint::Fingerprints;
use crate::graph;
use crate::keys::{self, ActionKey, KeyDoc, SourceKey};
use crate::workspace::{Asset, Workspace};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The pack's step name.
pub const PACK_STEP: &str = "pack";
/// Changes whenever the container or companion bytes could change.
pub const PACK_VERSION: &str = "pack-1";

/// The workspace, its graph and every action's key: what gen writes and `status` compares.
pub struct Plan {
    pub ws: Workspace,
    pub graph: graph::Graph,
    /// One per asset, in `ws.assets` order.
    pub keys: Vec<ActionKey>,
    /// The pack's key, its step key typed (as JSON it was ~1.5 KiB per asset of gen's peak).
    pub pack: ActionKey<PackStepKey>,
}

/// Loads, validates, builds the graph and computes every key, hashing through `fp`.
pub fn plan_keys(dir: &Path, fp: &mut Fingerprints) -> anyhow::Result<Plan> {
    let ws = Workspace::load(dir)?;
    if ws.diags.blocking() {
        return Err(Blocked(ws.diags.0).into());
    }
    let graph = graph::build(&ws.assets).map_err(Blocked::from)?;
    let keys = compute_keys(&ws, &graph, fp)?;
    let strong: Vec<String> = keys.iter().map(|k| k.strong.clone()).collect();
    let pack = pack_key_doc(&ws.assets, &strong).keyed();
    Ok(Plan { ws, graph, keys, pack })
}

/// The key of one asset, planning only what it depends on (a step run by hand needs no
/// more): the workspace is loaded and checked as a whole, but only the asset and its
/// dependencies, transitively, are hashed and keyed. `None` when no asset has that id.
pub fn plan_one(dir: &Path, fp: &mut Fingerprints, asset_id: u64) -> anyhow::Result<Option<ActionKey>> {
    let ws = Workspace::load(dir)?;
    if ws.diags.blocking() {
        return Err(Blocked(ws.diags.0).into());
    }
    let graph = graph::build(&ws.assets).map_err(Blocked::from)?;
    let Some(me) = ws.assets.iter().position(|a| a.id == asset_id) else { return Ok(None) };
    let mut wanted = vec![false; ws.assets.len()];
    let mut todo = vec![me];
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut wanted[i], true) {
            todo.extend(graph.deps[i].iter().copied());
        }
    }
    Ok(key_subset(&ws, &graph, fp, &wanted)?.swap_remove(me))
}

/// Hashes the sources (through the fingerprints) and computes each asset's key,
/// dependencies first.
fn compute_keys(ws: &Workspace, g: &graph::Graph, fp: &mut Fingerprints) -> anyhow::Result<Vec<ActionKey>> {
    let keyed = key_subset(ws, g, fp, &vec![true; ws.assets.len()])?;
    anyhow::ensure!(keyed.iter().all(Option::is_some), "an asset was left out of the graph's order");
    Ok(keyed.into_iter().flatten().collect())
}

/// The keys of the `wanted` assets (which must include their dependencies), `None` for the
/// others; only the wanted assets' sources are hashed.
fn key_subset(
    ws: &Workspace,
    g: &graph::Graph,
    fp: &mut Fingerprints,
    wanted: &[bool],
) -> anyhow::Result<Vec<Option<ActionKey>>> {
    let mut paths = Vec::new();
    for a in ws.assets.iter().zip(wanted).filter(|(_, &w)| w).map(|(a, _)| a) {
        let root = a.root_in_project();
        paths.extend(a.files().map(|f| root.join(f).to_string()));
    }
    let hashes = fp.hash_all(&ws.dir, &paths)?;
    anyhow::ensure!(hashes.len() == paths.len(), "{} hashes for {} sources", hashes.len(), paths.len());
    let mut next = hashes.into_iter();
    let sources: Vec<Vec<SourceKey>> = ws
        .assets
        .iter()
        .zip(wanted)
        .map(|(a, &w)| {
            if w {
                a.files().zip(next.by_ref()).map(|(f, key)| SourceKey { name: f.to_string(), key }).collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    // No key is ever made from a default: a dependency not keyed yet, or a tilemap without
    // its bank, is a bug in the graph's order, reported as one.
    let key_of = |i: usize, keyed: &[Option<ActionKey>]| -> anyhow::Result<ActionKey> {
        let a = &ws.assets[i];
        let deps = g.deps[i]
            .iter()
            .map(|&d| match keyed.get(d).and_then(Option::as_ref) {
                Some(k) => Ok((ws.assets[d].id, k.strong.clone())),
                None => {
                    anyhow::bail!("asset {} is keyed before its dependency {}", a.decl.name, ws.assets[d].decl.name)
                }
            })
            .collect::<anyhow::Result<Vec<(u64, String)>>>()?;
        let (step, version) = a.decl.ty.step();
        let mut doc = keys::asset_doc(step, version, &a.decl, sources[i].clone(), &deps);
        if let Some(complete) = a.decl.ty.info().complete_key {
            let dep_roots: Vec<&str> = g.deps[i].iter().map(|&d| ws.assets[d].root.as_str()).collect();
            complete(&mut doc.step_key, a.root.as_str(), &dep_roots)
                .map_err(|why| anyhow::anyhow!("{} {} {why}", a.decl.ty.name(), a.decl.name))?;
        }
        Ok(doc.keyed())
    };
    // Assets without dependencies (nearly all) on every core; then the rest, dependencies
    // first.
    let mut keyed: Vec<Option<ActionKey>> = vec![None; ws.assets.len()];
    let free: Vec<usize> = (0..ws.assets.len()).filter(|&i| wanted[i] && g.deps[i].is_empty()).collect();
    for (i, k) in free.iter().zip(crate::par::parallel_map(&free, |&i| key_of(i, &[]))?) {
        keyed[*i] = Some(k);
    }
    for &i in g.order.iter().filter(|&&i| wanted[i] && !g.deps[i].is_empty()) {
        keyed[i] = Some(key_of(i, &keyed)?);
    }
    Ok(keyed)
}

/// The table fields of one asset, as they appear in the pack's `step-key`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackEntry {
    pub asset_id: u64,
    pub asset_name: String,
    pub asset_uuid: String,
    pub bank_type: String,
    pub codec: String,
    pub preload: bool,
    pub root: String,
    pub inputs: Roles,
}

/// An asset's inputs as the pack's key lists them: role → the inputs as declared, roles in
/// byte order; serialized as that JSON object. Pairs, not a map: a `Value` map (a B-tree
/// node of ~600 bytes even for one role) was half of each entry's memory in the pack.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Roles(pub Vec<(String, Vec<String>)>);

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(role, list)| (role, list)))
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = Roles;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of role → list of inputs")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Roles, A::Error> {
                let mut pairs = Vec::with_capacity(m.size_hint().unwrap_or(0));
                while let Some(pair) = m.next_entry::<String, Vec<String>>()? {
                    pairs.push(pair);
                }
                Ok(Roles(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackStepKey {
    pub assets: Vec<PackEntry>,
}

/// [`PackStepKey`] borrowed: the same canonical bytes, for the pack step's key.
#[derive(Serialize)]
pub struct PackStepKeyRef<'a> {
    pub assets: &'a [PackEntry],
}

/// The pack's key document. `asset_keys[i]` is the strong key of `assets[i]`'s action.
pub fn pack_key_doc(assets: &[Asset], asset_keys: &[String]) -> KeyDoc<PackStepKey> {
    let entries: Vec<PackEntry> = assets.iter().map(entry).collect();
    KeyDoc {
        core_version: keys::CORE_VERSION,
        step: PACK_STEP.into(),
        step_version: PACK_VERSION.into(),
        step_key: PackStepKey { assets: entries },
        sources: Vec::new(),
        dependencies_strong: asset_keys.to_vec(),
        dependencies_weak: assets.iter().map(|a| keys::action_name(a.id)).collect(),
    }
}

fn entry(a: &Asset) -> PackEntry {
    PackEntry {
        asset_id: a.id,
        asset_name: a.decl.name.clone(),
        asset_uuid: a.decl.asset_uuid.clone(),
        bank_type: a.decl.ty.bank_type().into(),
        codec: a.decl.codec.clone(),
        preload: a.decl.preload,
        root: a.root.to_string(),
        inputs: Roles(
            a.decl
                .inputs
                .iter()
                .map(|(role, list)| (role.clone(), list.iter().map(|i| i.declared()).collect()))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::Fingerprints;

    /// A bank and a map on it, registered by hand (the bytes are never decoded: keys only hash).
    fn workspace(dir: &Path) -> Workspace {
        let write = |rel: &str, text: &str| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let entry = |id: u64, root: &str| {
            format!(r#"{{"asset_id": {id}, "asset_uuid": "u{id}", "root": "{root}", "included_in_build": true}}"#)
        };
        write(
            "assets/.prometeu/index.json",
            &format!(
                r#"{{"schema_version": 1, "next_asset_id": 3, "assets": [{}, {}]}}"#,
                entry(1, "bank"),
                entry(2, "map")
            ),
        );
        write("assets/bank/a.png", "png");
        write(
            "assets/bank/asset.json",
            r#"{"schema_version":1,"asset_uuid":"u1","name":"bank","type":"tile_bank","inputs":{"tiles":["a.png"]},"output":{"format":"TILES/indexed_v1","codec":"NONE"},"preload":{"enabled":false}}"#,
        );
        write("assets/map/m.tmx", "<map/>");
        write(
            "assets/map/asset.json",
            r#"{"schema_version":1,"asset_uuid":"u2","name":"map","type":"tilemap","inputs":{"map":["m.tmx"],"tiles":["@asset:bank"]},"output":{"format":"TILEMAP/u16_v1","codec":"NONE"},"preload":{"enabled":false}}"#,
        );
        let ws = Workspace::load(dir).unwrap();
        assert!(!ws.diags.blocking(), "{:?}", ws.diags.0);
        ws
    }

    #[test]
    fn a_pack_entry_lists_the_inputs_as_the_declaration_s_json_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        for a in &ws.assets {
            let e = entry(a);
            let canonical = crate::canon::to_vec(&e.inputs).unwrap();
            assert_eq!(canonical, crate::canon::to_vec(&a.decl.inputs_json()).unwrap());
            let back: Roles = serde_json::from_slice(&canonical).unwrap();
            assert_eq!(back, e.inputs);
        }
        let two = Roles(vec![("a".into(), vec![]), ("b".into(), vec!["x y".into(), "é".into()])]);
        let text = crate::canon::to_vec(&two).unwrap();
        assert_eq!(String::from_utf8(text.clone()).unwrap(), r#"{"a":[],"b":["x y","é"]}"#);
        assert_eq!(serde_json::from_slice::<Roles>(&text).unwrap(), two);
        assert!(serde_json::from_slice::<Roles>(b"[1]").is_err());
    }

    #[test]
    fn keys_are_never_made_from_a_default_when_the_graph_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let g = graph::build(&ws.assets).unwrap();
        let keys = compute_keys(&ws, &g, &mut Fingerprints::default()).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].doc.dependencies_strong, [keys[0].strong.clone()], "the map's key holds the bank's");

        // An order that puts the map first (here: a cycle no graph::build would let through).
        let cyclic = graph::Graph { order: vec![1, 0], deps: vec![vec![1], vec![0]] };
        let e = compute_keys(&ws, &cyclic, &mut Fingerprints::default()).unwrap_err();
        assert_eq!(e.to_string(), "asset map is keyed before its dependency bank");

        let bankless = graph::Graph { order: g.order.clone(), deps: vec![Vec::new(); 2] };
        let e = compute_keys(&ws, &bankless, &mut Fingerprints::default()).unwrap_err();
        assert_eq!(e.to_string(), "tilemap map has no tile bank in the graph");
    }
}
