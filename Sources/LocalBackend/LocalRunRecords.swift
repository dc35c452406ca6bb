import Foundation
import TrainyardCore

/// What the supervisor runs: written by the worker before the supervisor starts.
struct LocalRunRequest: Codable, Equatable {
    var jobID: JobID
    var attempt: Int
    /// Program and arguments, executed directly (no shell).
    var argv: [String]
    var env: [String: String]
    var secrets: [SecretReference]
    var maxRuntimeSeconds: Int
    /// SIGTERM → SIGKILL grace on cancel or timeout.
    var gracePeriodSeconds: Double
}

/// Written (create-only) by the supervisor just before it starts the job's process.
struct LocalRunStarted: Codable, Equatable {
    var startedAt: Date
    var supervisorPID: Int32
}

/// The job's process id, written right after it started.
struct LocalRunProcess: Codable, Equatable {
    var pid: Int32
}

/// The attempt's outcome, written once (create-only) by whoever decides it first.
struct LocalRunStatus: Codable, Equatable {
    var state: JobState
    var exitCode: Int32?
    var failureClass: FailureClass?
    var reason: String?
    var finishedAt: Date
}

/// Why a cancel was asked for; its presence is the request.
struct LocalRunCancel: Codable, Equatable {
    var reason: String
    var requestedAt: Date
}
