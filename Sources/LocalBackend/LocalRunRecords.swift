import Foundation
import Glibc
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
    /// The PID namespace the pid belongs to (`pid:[inode]`): a pid means nothing in another one
    /// (e.g. a worker in another container sharing the state volume).
    var pidNamespace: String?

    init(pid: Int32, pidNamespace: String? = LocalRunProcess.currentPIDNamespace) {
        self.pid = pid
        self.pidNamespace = pidNamespace
    }

    static var currentPIDNamespace: String? { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") }

    /// Kills the job's process group with SIGKILL, only when its pid is one of this namespace.
    func killGroup() {
        guard let pidNamespace, pidNamespace == Self.currentPIDNamespace else { return }
        kill(-pid, SIGKILL)
    }
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
