import TrainyardCore

/// One configured place to run jobs: a backend with its own settings and concurrency limit.
///
/// A fleet may configure several targets of one backend type (e.g. two Kubernetes namespaces);
/// routing rules name targets.
public struct BackendTarget: Sendable {
    /// The target's name in the worker's configuration file (e.g. `k8s-gpu`).
    public var name: String
    public var backend: any ComputeBackend
    /// Attempts this worker runs at once on this target; past it, the worker pauses claiming.
    public var concurrencyLimit: Int
    /// What an attempt on this target costs (default: nothing).
    public var pricing: any AttemptPricing

    public init(name: String, backend: any ComputeBackend, concurrencyLimit: Int, pricing: any AttemptPricing = ResourceRates.free) {
        self.name = name
        self.backend = backend
        self.concurrencyLimit = concurrencyLimit
        self.pricing = pricing
    }
}

/// Chooses the target for a job from its kind, team and labels.
///
/// `auto` specs take the first matching rule's target, else the default. A spec that names a
/// backend type gets it only when the policy allows explicit choices of that type; it then takes
/// the first matching rule whose target has that type, else the first target of that type. A job
/// whose secrets the chosen target's secret rules do not allow its team has no target.
public struct BackendRouter: Sendable {
    public let targets: [BackendTarget]
    public let policy: RoutingPolicy
    public let secretPolicy: SecretPolicy

    /// Fails when a rule or the default names a target that is not configured.
    public init(targets: [BackendTarget], policy: RoutingPolicy, secretPolicy: SecretPolicy = .ownTeamOnly) throws(BackendError) {
        try policy.validate(targetNames: targets.map(\.name))
        self.targets = targets
        self.policy = policy
        self.secretPolicy = secretPolicy
    }

    /// A router with one target that every job goes to.
    public init(single target: BackendTarget, secretPolicy: SecretPolicy = .ownTeamOnly) {
        targets = [target]
        policy = RoutingPolicy(defaultTarget: target.name)
        self.secretPolicy = secretPolicy
    }

    /// The target for `spec`, or why there is none (the message names a refused secret, never a value).
    public func route(_ spec: JobSpec) -> Result<BackendTarget, BackendError> {
        route(ignoringSecrets: spec).flatMap { target in
            if let violation = secretPolicy.violation(of: spec, onTarget: target.name) {
                return .failure(BackendError(.invalidRequest, violation.description))
            }
            return .success(target)
        }
    }

    /// The target for `spec` by the routing rules alone, before the secret policy is checked.
    public func route(ignoringSecrets spec: JobSpec) -> Result<BackendTarget, BackendError> {
        let matching = policy.rules.filter { $0.matches(spec) }.compactMap { rule in targets.first { $0.name == rule.target } }
        if spec.backend == .auto {
            return .success(matching.first ?? targets.first { $0.name == policy.defaultTarget }!)
        }
        let type = spec.backend.rawValue
        guard policy.explicitBackends.contains(spec.backend) else {
            let allowed = policy.explicitBackends.map(\.rawValue).sorted().joined(separator: ", ")
            return .failure(
                BackendError(
                    .invalidRequest,
                    "backend \"\(type)\" may not be chosen explicitly on this fleet (allowed: \(allowed.isEmpty ? "none" : allowed)); use auto"))
        }
        if let target = matching.first(where: { $0.backend.name == type }) ?? targets.first(where: { $0.backend.name == type }) {
            return .success(target)
        }
        let available = Set(targets.map(\.backend.name)).sorted().joined(separator: ", ")
        return .failure(BackendError(.invalidRequest, "backend \"\(type)\" is not configured on this fleet (available: \(available))"))
    }
}

/// The routing part of a worker's configuration file.
public struct RoutingPolicy: Sendable, Equatable, Decodable {
    /// Checked in order; the first that matches wins.
    public var rules: [RoutingRule]
    /// The target for `auto` specs no rule matches.
    public var defaultTarget: String
    /// Backend types a spec may name instead of `auto`.
    public var explicitBackends: Set<BackendChoice>

    public init(rules: [RoutingRule] = [], defaultTarget: String, explicitBackends: Set<BackendChoice> = RoutingPolicy.allBackends) {
        self.rules = rules
        self.defaultTarget = defaultTarget
        self.explicitBackends = explicitBackends
    }

    public static let allBackends = Set(BackendChoice.allCases.filter { $0 != .auto })

    /// Fails when target names repeat, or a rule or the default names a target not in `targetNames`.
    public func validate(targetNames: [String]) throws(BackendError) {
        let names = Set(targetNames)
        guard names.count == targetNames.count else { throw BackendError(.invalidRequest, "backend target names must be unique") }
        for name in [defaultTarget] + rules.map(\.target) where !names.contains(name) {
            throw BackendError(
                .invalidRequest,
                "routing names backend target \"\(name)\", which is not configured (configured: \(names.sorted().joined(separator: ", ")))")
        }
    }

    /// One line per rule, then the default, for `worker --check-config`.
    public var summary: [String] {
        rules.map { rule in
            let conditions =
                [
                    rule.kinds.map { "kinds " + $0.map(\.rawValue).sorted().joined(separator: ", ") },
                    rule.teams.map { "teams " + $0.sorted().joined(separator: ", ") },
                    rule.labels.isEmpty
                        ? nil : "labels " + rule.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
                ].compactMap { $0 }
            return "\(conditions.isEmpty ? "any job" : conditions.joined(separator: "; ")) -> \(rule.target)"
        } + ["otherwise -> \(defaultTarget)", "explicit backends allowed: \(explicitBackends.map(\.rawValue).sorted().joined(separator: ", "))"]
    }

    enum CodingKeys: String, CodingKey {
        case rules
        case defaultTarget = "default"
        case explicitBackends = "allowExplicit"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rules = try container.decodeIfPresent([RoutingRule].self, forKey: .rules) ?? []
        defaultTarget = try container.decode(String.self, forKey: .defaultTarget)
        explicitBackends = try container.decodeIfPresent(Set<BackendChoice>.self, forKey: .explicitBackends) ?? Self.allBackends
    }
}

/// Sends jobs of the given kinds, teams and labels to a target. An absent condition matches anything.
public struct RoutingRule: Sendable, Equatable, Decodable {
    public var kinds: Set<JobKind>?
    public var teams: Set<String>?
    /// Every pair must be among the job's labels.
    public var labels: [String: String]
    /// The target's name.
    public var target: String

    public init(kinds: Set<JobKind>? = nil, teams: Set<String>? = nil, labels: [String: String] = [:], target: String) {
        self.kinds = kinds
        self.teams = teams
        self.labels = labels
        self.target = target
    }

    enum CodingKeys: String, CodingKey {
        case kinds, teams, labels
        case target = "backend"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kinds = try container.decodeIfPresent(Set<JobKind>.self, forKey: .kinds)
        teams = try container.decodeIfPresent(Set<String>.self, forKey: .teams)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        target = try container.decode(String.self, forKey: .target)
    }

    public func matches(_ spec: JobSpec) -> Bool {
        (kinds?.contains(spec.kind) ?? true) && (teams?.contains(spec.team) ?? true)
            && labels.allSatisfy { spec.labels[$0.key] == $0.value }
    }
}
