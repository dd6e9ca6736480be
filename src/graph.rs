//! The graph stage: assets and their `@asset:` references as a petgraph, checked for cycles,
//! in an order where every dependency comes before its dependants. The pack action depends on
//! every asset and is implicit at the end.

use crate::diag::{Code, Diagnostic};
use crate::workspace::Asset;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;

/// The planned order and dependencies, as indices into the asset list.
#[derive(Debug)]
pub struct Graph {
    /// Dependencies before dependants; ties in increasing `asset_id`.
    pub order: Vec<usize>,
    /// For each asset, the assets it references, in declared order.
    pub deps: Vec<Vec<usize>>,
}

/// Builds the graph. Unknown references are reported by the workspace stage and skipped here.
pub fn build(assets: &[Asset]) -> Result<Graph, Diagnostic> {
    let by_name: HashMap<&str, usize> = assets.iter().enumerate().map(|(i, a)| (a.decl.name.as_str(), i)).collect();
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(assets.len(), 0);
    let nodes: Vec<NodeIndex> = (0..assets.len()).map(|i| g.add_node(i)).collect();
    let mut deps = vec![Vec::new(); assets.len()];
    for (i, a) in assets.iter().enumerate() {
        for r in a.asset_refs() {
            if let Some(&j) = by_name.get(r) {
                if !deps[i].contains(&j) {
                    deps[i].push(j);
                    g.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
    }
    if toposort(&g, None).is_err() {
        return Err(cycle_diagnostic(&g, assets, &deps));
    }
    // Stable order: repeatedly take the lowest-id asset whose dependencies are all placed.
    // Assets are sorted by id, so a simple Kahn's algorithm over indices is deterministic.
    let mut indegree: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependants = vec![Vec::new(); assets.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependants[d].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..assets.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(assets.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependants[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(j);
            }
        }
    }
    Ok(Graph { order, deps })
}

fn cycle_diagnostic(g: &DiGraph<usize, ()>, assets: &[Asset], deps: &[Vec<usize>]) -> Diagnostic {
    let scc = tarjan_scc(g).into_iter().find(|c| c.len() > 1 || g.contains_edge(c[0], c[0])).unwrap_or_default();
    let members: std::collections::HashSet<usize> = scc.iter().map(|n| g[*n]).collect();
    // The cycle as it is walked, starting (for a stable message) from the least name: the
    // shortest way back to it through references inside the strongly connected set.
    let name = |i: usize| assets[i].decl.name.as_str();
    let start = members.iter().copied().min_by_key(|&i| name(i)).unwrap_or(0);
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    'search: while let Some(i) = queue.pop_front() {
        for &j in deps[i].iter().filter(|j| members.contains(j)) {
            if j == start {
                came_from.insert(start, i);
                break 'search;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = came_from.entry(j) {
                e.insert(i);
                queue.push_back(j);
            }
        }
    }
    let mut path = vec![start];
    let mut at = came_from.get(&start).copied();
    while let Some(i) = at.filter(|&i| i != start) {
        path.push(i);
        at = came_from.get(&i).copied();
    }
    path[1..].reverse();
    let cycle: Vec<&str> = path.iter().chain([&start]).map(|&i| name(i)).collect();
    let cycle = cycle.join(" → ");
    let first = name(start);
    let file = assets[start].root_in_project().to_string();
    Diagnostic::error(
        Code::PK014,
        format!("assets reference each other in a cycle: {cycle}"),
        "remove one of the @asset: references so the assets form a tree",
    )
    .file(format!("{file}/asset.json"))
    .asset(first)
}
