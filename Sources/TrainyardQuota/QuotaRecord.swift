import Foundation
import TrainyardCore

/// A worker asks to start a job under its team's quota (see docs/fair-share.md).
public struct QuotaClaim: Codable, Sendable, Equatable {
    public var team: String
    public var target: String
    public var job: JobID
    /// The first attempt the worker means to start under this claim; retries run under it too.
    public var attempt: Int
    public var resources: QuotaResources
    /// The quota as the claiming worker's configuration had it when it claimed.
    public var limits: ClaimLimits
    public var worker: String

    public init(
        team: String, target: String, job: JobID, attempt: Int, resources: QuotaResources, limits: ClaimLimits, worker: String
    ) {
        self.team = team
        self.target = target
        self.job = job
        self.attempt = attempt
        self.resources = resources
        self.limits = limits
        self.worker = worker
    }
}

/// A job reached its terminal state (and that event was delivered): its grant is returned.
public struct QuotaRelease: Codable, Sendable, Equatable {
    public var job: JobID
    public var worker: String

    public init(job: JobID, worker: String) {
        self.job = job
        self.worker = worker
    }
}

/// One record of the claims topic.
public enum QuotaRecord: Codable, Sendable, Equatable {
    case claim(QuotaClaim)
    case release(QuotaRelease)

    /// The record's bytes on the claims topic (JSON).
    public func encoded() throws -> [UInt8] { Array(try JSONEncoder().encode(self)) }

    /// Reads a record; nil for bytes that are not one (a fold skips them, so bad input never
    /// stops the fleet).
    public static func decode(_ bytes: [UInt8]) -> QuotaRecord? {
        try? JSONDecoder().decode(QuotaRecord.self, from: Data(bytes))
    }
}
