import Foundation
import Synchronization
import TrainyardQuota

/// The quotas file (`worker --quotas PATH`): per-team limits on running attempts, GPUs and CPUs,
/// optionally per target, fair-share weights, and defaults for teams not named. A team's entry
/// takes each limit it leaves out from `defaults`. Unknown keys are refused (a misspelt limit
/// must not silently mean "unlimited").
///
/// ```yaml
/// defaults: {maxAttempts: 8}
/// teams:
///   vision:
///     maxAttempts: 4
///     maxGPUs: 8
///     weight: 2
///     targets:
///       gpu-cluster: {maxGPUs: 4}
/// ```
public enum QuotaPolicyFile {
    /// Reads and checks the file.
    public static func load(path: String) throws -> QuotaPolicy {
        let file = try ConfigFile.load(QuotaFileDocument.self, path: path)
        let defaults = file.defaults?.quota(inheriting: TeamQuota()) ?? TeamQuota()
        let teams = (file.teams ?? [:]).mapValues { $0.quota(inheriting: defaults) }
        for (team, quota) in [("defaults", defaults)] + teams.sorted(by: { $0.key < $1.key }) where !(quota.weight > 0) {
            throw ConfigFileError(path: path, message: "\(team): weight must be above 0")
        }
        return QuotaPolicy(defaults: defaults, teams: teams)
    }
}

/// The quotas file, re-read when its modification time or size changes (`reloadIfChanged`,
/// which the worker calls periodically): quotas change without a restart. A file that no longer
/// loads leaves the last good policy in force.
public final class QuotaPolicyReloader: QuotaPolicySource {
    /// What a reload check found.
    public enum Outcome: Sendable {
        case unchanged
        case reloaded(QuotaPolicy)
        case refused(ConfigFileError)
    }

    public let path: String
    private let state: Mutex<(policy: QuotaPolicy, stamp: FileStamp?)>

    /// Loads the file; it must be valid now.
    public init(path: String) throws {
        self.path = path
        let stamp = FileStamp(path: path)
        state = Mutex((try QuotaPolicyFile.load(path: path), stamp))
    }

    /// The policy in force.
    public var policy: QuotaPolicy { state.withLock { $0.policy } }

    /// Re-reads the file if it changed since the last check.
    public func reloadIfChanged() -> Outcome {
        let stamp = FileStamp(path: path)
        guard stamp != state.withLock({ $0.stamp }) else { return .unchanged }
        do {
            let policy = try QuotaPolicyFile.load(path: path)
            state.withLock { $0 = (policy, stamp) }
            return .reloaded(policy)
        } catch {
            state.withLock { $0.stamp = stamp }  // reported once per change, not at every check
            return .refused(error as? ConfigFileError ?? ConfigFileError(path: path, message: "\(error)"))
        }
    }
}

/// Modification time and size: a changed file changes one of them.
private struct FileStamp: Equatable, Sendable {
    var modified: Date
    var size: Int

    init?(path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let modified = attributes[.modificationDate] as? Date, let size = attributes[.size] as? NSNumber
        else { return nil }
        self.modified = modified
        self.size = size.intValue
    }
}

private struct QuotaFileDocument: Decodable {
    var defaults: TeamEntry?
    var teams: [String: TeamEntry]?

    enum CodingKeys: String, CodingKey, CaseIterable { case defaults, teams }

    init(from decoder: Decoder) throws {
        try refuseUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        defaults = try container.decodeIfPresent(TeamEntry.self, forKey: .defaults)
        teams = try container.decodeIfPresent([String: TeamEntry].self, forKey: .teams)
    }
}

/// Limits as written in the file; a key left out inherits.
private struct LimitEntry: Decodable {
    var maxAttempts: Int?
    var maxGPUs: Int?
    var maxCPUs: Double?

    enum CodingKeys: String, CodingKey, CaseIterable { case maxAttempts, maxGPUs, maxCPUs }

    init(from decoder: Decoder) throws {
        try refuseUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue))
        try self.init(limitsIn: decoder)
    }

    /// Reads the three limit keys of `decoder`'s mapping (which may hold other keys too).
    init(limitsIn decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxAttempts = try container.decodeIfPresent(Int.self, forKey: .maxAttempts)
        maxGPUs = try container.decodeIfPresent(Int.self, forKey: .maxGPUs)
        maxCPUs = try container.decodeIfPresent(Double.self, forKey: .maxCPUs)
        let values: [(CodingKeys, Double?)] = [
            (.maxAttempts, maxAttempts.map(Double.init)), (.maxGPUs, maxGPUs.map(Double.init)), (.maxCPUs, maxCPUs),
        ]
        for (key, value) in values {
            if let value, value < 0 {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "must not be negative")
            }
        }
    }

    func limit(inheriting base: QuotaLimit) -> QuotaLimit {
        QuotaLimit(maxAttempts: maxAttempts ?? base.maxAttempts, maxGPUs: maxGPUs ?? base.maxGPUs, maxCPUs: maxCPUs ?? base.maxCPUs)
    }
}

/// A team's (or the defaults') entry: its limits, weight and per-target limits.
private struct TeamEntry: Decodable {
    var limits: LimitEntry
    var weight: Double?
    var targets: [String: LimitEntry]?

    enum CodingKeys: String, CodingKey { case weight, targets }

    init(from decoder: Decoder) throws {
        try refuseUnknownKeys(decoder, known: LimitEntry.CodingKeys.allCases.map(\.rawValue) + ["weight", "targets"])
        let container = try decoder.container(keyedBy: CodingKeys.self)
        weight = try container.decodeIfPresent(Double.self, forKey: .weight)
        targets = try container.decodeIfPresent([String: LimitEntry].self, forKey: .targets)
        limits = try LimitEntry(limitsIn: decoder)
    }

    func quota(inheriting base: TeamQuota) -> TeamQuota {
        var targetLimits = base.targets
        for (name, entry) in targets ?? [:] { targetLimits[name] = entry.limit(inheriting: base.targets[name] ?? .unlimited) }
        return TeamQuota(limit: limits.limit(inheriting: base.limit), targets: targetLimits, weight: weight ?? base.weight)
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws for a key of `decoder`'s mapping that is not in `known`.
private func refuseUnknownKeys(_ decoder: Decoder, known: [String]) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: decoder.codingPath + [AnyKey(stringValue: unknown)],
                debugDescription: "unknown key (known: \(known.joined(separator: ", ")))"))
    }
}
