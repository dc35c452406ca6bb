/// Which secrets each team's jobs may reference, per backend target.
///
/// Read from the worker's configuration file: `secrets` at the top applies to every target, and
/// `secrets` in a `backends` entry replaces it for that target. Without either, a team may
/// reference only the secrets named `<team>-…`. The worker checks a job against its target's
/// rules before anything is created (REJECTED, INVALID_REQUEST); the API checks at submit
/// that at least one target allows it.
///
/// ```yaml
/// secrets:
///   ownTeamPrefix: "{team}-"        # the default; "" turns it off
///   grants:
///     - {teams: [search, ads], names: [shared-hf-token], prefixes: [public-]}
/// backends:
///   - name: k8s-prod
///     type: kubernetes
///     secrets: {grants: [{teams: ["*"], names: [pull-through-cache]}]}
/// ```
public struct SecretPolicy: Sendable, Equatable, Decodable {
    /// The rules of targets without their own.
    public var fleetRules: SecretRules
    /// Rules of the targets that have their own, by target name.
    public var targetRules: [String: SecretRules]

    /// A team may reference only its own secrets (`<team>-…`) on every target.
    public static let ownTeamOnly = SecretPolicy()

    public init(fleetRules: SecretRules = SecretRules(), targetRules: [String: SecretRules] = [:]) {
        self.fleetRules = fleetRules
        self.targetRules = targetRules
    }

    /// The rules that apply on `target`.
    public func rules(forTarget target: String) -> SecretRules { targetRules[target] ?? fleetRules }

    /// Why `spec` may not run on `target`, naming the first secret its team may not reference there.
    public func violation(of spec: JobSpec, onTarget target: String) -> SpecViolation? {
        rules(forTarget: target).violation(of: spec, where: "on backend target \"\(target)\"")
    }

    /// Why `spec` may run on no target (the API's check at submit: it does not route, so it refuses
    /// only what every target's rules refuse; the worker then checks the routed target's).
    public func violationOnEveryTarget(of spec: JobSpec) -> SpecViolation? {
        let every = [fleetRules] + targetRules.sorted { $0.key < $1.key }.map(\.value)
        guard every.allSatisfy({ $0.violation(of: spec, where: "") != nil }) else { return nil }
        for (index, secret) in spec.secrets.enumerated() where every.allSatisfy({ !$0.allows(team: spec.team, secretName: secret.secretName) }) {
            return SpecViolation(
                field: "secrets[\(index)].secretName",
                message: "team \(spec.team) may not reference secret \"\(secret.secretName)\" on any backend target by the secret policy")
        }
        return SpecViolation(field: "secrets", message: "no backend target's secret policy lets team \(spec.team) reference all of these secrets")
    }

    /// One line per target with its own rules, then the fleet's, for `worker --check-config`.
    public var summary: [String] {
        targetRules.sorted { $0.key < $1.key }.map { "secrets on \($0.key): \($0.value.summary)" } + ["secrets otherwise: \(fleetRules.summary)"]
    }

    enum CodingKeys: String, CodingKey { case secrets, backends }

    /// The parts of a `backends` entry this type reads.
    private struct TargetEntry: Decodable {
        var name: String
        var secrets: SecretRules?
    }

    /// Decodes a whole worker configuration document: `secrets` at the top and in each `backends`
    /// entry; every other key is left to the configuration's other readers.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        fleetRules = try container.decodeIfPresent(SecretRules.self, forKey: .secrets) ?? SecretRules()
        let entries = try container.decodeIfPresent([TargetEntry].self, forKey: .backends) ?? []
        targetRules = Dictionary(entries.compactMap { entry in entry.secrets.map { (entry.name, $0) } }, uniquingKeysWith: { $1 })
    }
}

/// The secrets teams may reference on one target: their own prefix plus explicit grants.
public struct SecretRules: Sendable, Equatable, Decodable {
    /// Names starting with this, `{team}` replaced by the job's team, belong to the team; "" turns it off.
    /// Team names may contain `-`, so with the default `{team}-` team `search` also reaches `search-ml-…`;
    /// `{team}.` avoids that (team names have no dots).
    public var ownTeamPrefix: String
    public var grants: [SecretGrant]

    public static let defaultOwnTeamPrefix = "{team}-"

    public init(ownTeamPrefix: String = SecretRules.defaultOwnTeamPrefix, grants: [SecretGrant] = []) {
        self.ownTeamPrefix = ownTeamPrefix
        self.grants = grants
    }

    enum CodingKeys: String, CodingKey { case ownTeamPrefix, grants }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ownTeamPrefix = try container.decodeIfPresent(String.self, forKey: .ownTeamPrefix) ?? Self.defaultOwnTeamPrefix
        if !ownTeamPrefix.isEmpty, !ownTeamPrefix.hasPrefix("{team}") {
            throw DecodingError.dataCorruptedError(
                forKey: .ownTeamPrefix, in: container, debugDescription: "must start with {team} (e.g. \"{team}-\"), or be \"\" for none")
        }
        grants = try container.decodeIfPresent([SecretGrant].self, forKey: .grants) ?? []
    }

    /// Whether a job of `team` may reference the secret `name`.
    public func allows(team: String, secretName name: String) -> Bool {
        if !ownTeamPrefix.isEmpty {
            let prefix = ownTeamPrefix.replacingOccurrences(of: "{team}", with: team)
            if name.hasPrefix(prefix), name.count > prefix.count { return true }
        }
        return grants.contains { $0.allows(team: team, secretName: name) }
    }

    /// The first secret of `spec` its team may not reference, as a violation naming it (never a value:
    /// specs hold none). `place` ends the message (e.g. `on backend target "k8s"`).
    public func violation(of spec: JobSpec, where place: String) -> SpecViolation? {
        guard let index = spec.secrets.firstIndex(where: { !allows(team: spec.team, secretName: $0.secretName) }) else { return nil }
        let own = ownTeamPrefix.isEmpty ? "" : " (its own are \(ownTeamPrefix.replacingOccurrences(of: "{team}", with: spec.team))…)"
        return SpecViolation(
            field: "secrets[\(index)].secretName",
            message: "team \(spec.team) may not reference secret \"\(spec.secrets[index].secretName)\" \(place) by the secret policy\(own)")
    }

    var summary: String {
        let own = ownTeamPrefix.isEmpty ? "no own-team prefix" : "own \(ownTeamPrefix)…"
        return ([own] + grants.map(\.summary)).joined(separator: "; ")
    }
}

/// Lets the listed teams reference the listed secret names and name prefixes.
public struct SecretGrant: Sendable, Equatable, Decodable {
    /// Team names; `*` is every team.
    public var teams: Set<String>
    public var names: Set<String>
    public var prefixes: [String]

    public init(teams: Set<String>, names: Set<String> = [], prefixes: [String] = []) {
        self.teams = teams
        self.names = names
        self.prefixes = prefixes
    }

    enum CodingKeys: String, CodingKey { case teams, names, prefixes }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        teams = try container.decode(Set<String>.self, forKey: .teams)
        names = try container.decodeIfPresent(Set<String>.self, forKey: .names) ?? []
        prefixes = try container.decodeIfPresent([String].self, forKey: .prefixes) ?? []
        if prefixes.contains("") {
            throw DecodingError.dataCorruptedError(forKey: .prefixes, in: container, debugDescription: "an empty prefix would grant every secret")
        }
    }

    public func allows(team: String, secretName name: String) -> Bool {
        (teams.contains("*") || teams.contains(team)) && (names.contains(name) || prefixes.contains { name.hasPrefix($0) })
    }

    var summary: String {
        let what = (names.sorted() + prefixes.map { "\($0)…" }).joined(separator: ", ")
        return "\(teams.sorted().joined(separator: ", ")) -> \(what)"
    }
}
