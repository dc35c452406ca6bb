import TrainyardCore

/// The fold of the claims topic that every worker computes the same way: which jobs hold a
/// grant, and each team's usage. It is a pure function of the records in order, so workers that
/// read the same log agree on every decision.
public struct QuotaLedger: Sendable {
    /// A job's grant: what it counts against, and who claimed it last.
    public struct Grant: Sendable, Equatable {
        public var team: String
        public var target: String
        public var resources: QuotaResources
        public var worker: String
    }

    /// What a claim record came to.
    public enum Decision: Sendable, Equatable {
        /// Granted now: the team's usage grew by the claim's resources.
        case granted
        /// The job already held a grant (adoption, or the same claim read again): nothing changed.
        case alreadyGranted
        /// It would have taken the team (or the team on the target) past its limit.
        case denied(QuotaDenial)
        /// The job's grant was released before (its job ended): a late claim, e.g. one a replaced
        /// worker sent before losing the partition that landed after the new owner's release.
        /// Nothing changed; the job must not start again.
        case released
    }

    /// Released jobs remembered to recognise late claims (`Decision.released`), oldest
    /// forgotten first. A late claim is one the producer still delivers after the hand-over, so
    /// it lands within the producer's message timeout of its release; this many releases in
    /// that time (some 300 jobs ending a second for 5 minutes) is beyond this fleet's scale.
    public static let releasedMemory = 100_000

    private(set) public var grants: [JobID: Grant] = [:]
    private var teamUsage: [String: QuotaResources] = [:]
    private var targetUsage: [TeamTarget: QuotaResources] = [:]
    private var released: Set<JobID> = []
    /// `released` in release order, for forgetting the oldest; `releasedHead` is its first live index.
    private var releaseOrder: [JobID] = []
    private var releasedHead = 0

    public init() {}

    /// What applying `claim` now would decide (without applying it).
    public func decision(for claim: QuotaClaim) -> Decision {
        if grants[claim.job] != nil { return .alreadyGranted }
        if released.contains(claim.job) { return .released }
        let team = usage(team: claim.team)
        if !claim.limits.team.admits(team + claim.resources) {
            return .denied(QuotaDenial(target: nil, usage: team, limit: claim.limits.team, asked: claim.resources))
        }
        let onTarget = usage(team: claim.team, target: claim.target)
        if let limit = claim.limits.target, !limit.admits(onTarget + claim.resources) {
            return .denied(QuotaDenial(target: claim.target, usage: onTarget, limit: limit, asked: claim.resources))
        }
        return .granted
    }

    /// Applies one claim; returns the decision every worker reaches for it.
    @discardableResult
    public mutating func apply(_ claim: QuotaClaim) -> Decision {
        let decision = decision(for: claim)
        switch decision {
        case .alreadyGranted: grants[claim.job]?.worker = claim.worker
        case .granted:
            grants[claim.job] = Grant(team: claim.team, target: claim.target, resources: claim.resources, worker: claim.worker)
            teamUsage[claim.team] = usage(team: claim.team) + claim.resources
            let key = TeamTarget(team: claim.team, target: claim.target)
            targetUsage[key] = usage(team: claim.team, target: claim.target) + claim.resources
        case .denied, .released: break
        }
        return decision
    }

    /// Applies one release; returns the grant it ended (nil when the job held none).
    @discardableResult
    public mutating func apply(_ release: QuotaRelease) -> Grant? {
        guard let grant = grants.removeValue(forKey: release.job) else { return nil }
        remember(released: release.job)
        teamUsage[grant.team] = usage(team: grant.team) - grant.resources
        let key = TeamTarget(team: grant.team, target: grant.target)
        targetUsage[key] = usage(team: grant.team, target: grant.target) - grant.resources
        if teamUsage[grant.team] == .zero { teamUsage[grant.team] = nil }
        if targetUsage[key] == .zero { targetUsage[key] = nil }
        return grant
    }

    /// Applies either kind of record; the claim's decision, nil for a release.
    @discardableResult
    public mutating func apply(_ record: QuotaRecord) -> Decision? {
        switch record {
        case .claim(let claim): return apply(claim)
        case .release(let release):
            apply(release)
            return nil
        }
    }

    private mutating func remember(released job: JobID) {
        released.insert(job)
        releaseOrder.append(job)
        if releaseOrder.count - releasedHead > Self.releasedMemory {
            released.remove(releaseOrder[releasedHead])
            releasedHead += 1
            if releasedHead > Self.releasedMemory {
                releaseOrder.removeFirst(releasedHead)
                releasedHead = 0
            }
        }
    }

    /// The team's usage over granted, unreleased jobs.
    public func usage(team: String) -> QuotaResources { teamUsage[team] ?? .zero }

    /// The team's usage on one target.
    public func usage(team: String, target: String) -> QuotaResources {
        targetUsage[TeamTarget(team: team, target: target)] ?? .zero
    }

    /// Teams holding at least one grant.
    public var teamsWithUsage: [String] { teamUsage.keys.sorted() }
}

private struct TeamTarget: Hashable, Sendable {
    var team: String
    var target: String
}
