import Foundation
import TrainyardCore

/// Written (create-only) by the supervisor just before it starts the job's process.
struct LocalRunStarted: Codable, Equatable {
    var startedAt: Date
    var supervisorPID: Int32
}

/// The attempt's outcome, written once (create-only) by whoever decides it first.
struct LocalRunStatus: Codable, Equatable {
    var state: JobState
    var exitCode: Int32?
    var failureClass: FailureClass?
    var reason: String?
    var finishedAt: Date
}
