/// The order in which a worker claims for teams that have held jobs: the team furthest below its
/// weighted share first, measured as fleet-wide running count divided by weight (ties by name, so
/// every worker orders alike).
public enum FairShare {
    /// `teams` ordered by running / weight, lowest first; a weight ≤ 0 counts as 1.
    public static func order(_ teams: [String], running: (String) -> Int, weight: (String) -> Double) -> [String] {
        func load(_ team: String) -> Double { Double(running(team)) / (weight(team) > 0 ? weight(team) : 1) }
        return teams.sorted { lhs, rhs in
            let (left, right) = (load(lhs), load(rhs))
            return left != right ? left < right : lhs < rhs
        }
    }
}
