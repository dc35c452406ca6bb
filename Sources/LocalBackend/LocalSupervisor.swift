import Foundation
import Glibc
import TrainyardCore

/// The process that owns one local attempt (`trainyard local-supervise DIR`).
///
/// It holds the run directory's lock for its whole life, starts the job at most once (guarded by
/// the create-only `started.json`), enforces the max runtime, honours `cancel.json`, and writes
/// the outcome to `status.json`. It runs in its own session, so it outlives the worker that
/// started it.
public enum LocalSupervisor {
    /// How often the supervisor checks the job, the cancel request and the deadline.
    static let tick: useconds_t = 20_000

    /// Runs the attempt in `directory`; returns the supervisor's exit status.
    public static func run(directory: URL) -> Int32 {
        let run = LocalRunDirectory(url: directory)
        func note(_ text: String) {
            FileHandle.standardError.write(Data("\(WireFormat.formatTimestamp(Date())) \(text)\n".utf8))
        }
        do {
            guard let lock = try SupervisorLock.acquire(run.lock) else {
                note("another supervisor holds \(run.lock.path); exiting")
                return 0
            }
            _ = lock  // held until this process exits
            if run.read(LocalRunStatus.self, from: run.status) != nil { return 0 }
            if run.read(LocalRunStarted.self, from: run.started) != nil {
                // A previous supervisor started the job and died: the job cannot be waited for any more.
                run.read(LocalRunProcess.self, from: run.process)?.killGroup()
                try finish(
                    run,
                    LocalRunStatus(
                        state: .failed, failureClass: .infrastructure, reason: "the local supervisor was lost while the job ran", finishedAt: Date()))
                return 0
            }
            guard let request = run.read(LocalRunRequest.self, from: run.request) else {
                note("no readable request.json in \(directory.path)")
                return 1
            }
            if let cancel = run.read(LocalRunCancel.self, from: run.cancel) {
                try finish(run, LocalRunStatus(state: .cancelled, reason: cancel.reason, finishedAt: Date()))
                return 0
            }
            let startedAt = Date()
            guard try run.create(LocalRunStarted(startedAt: startedAt, supervisorPID: getpid()), at: run.started) else {
                note("started.json already exists; not starting the job again")
                return 0
            }
            try supervise(request, in: run, startedAt: startedAt, note: note)
            return 0
        } catch {
            note("supervisor failed: \(error)")
            return 1
        }
    }

    private static func supervise(_ request: LocalRunRequest, in run: LocalRunDirectory, startedAt: Date, note: (String) -> Void) throws {
        let environment: [String: String]
        do {
            environment = try jobEnvironment(request)
        } catch {
            // A missing secret is a configuration problem: retrying the attempt cannot help.
            try finish(run, LocalRunStatus(state: .failed, failureClass: .invalidRequest, reason: "\(error)", finishedAt: Date()))
            return
        }
        let options = ProcessSpawner.Options(environment: environment, standardOutput: run.stdout, standardError: run.stderr, newProcessGroup: true)
        guard FileManager.default.changeCurrentDirectoryPath(run.work.path) else {
            try finish(
                run, LocalRunStatus(state: .failed, failureClass: .infrastructure, reason: "cannot enter \(run.work.path)", finishedAt: Date()))
            return
        }
        let pid: pid_t
        switch ProcessSpawner.spawn(request.argv, options: options) {
        case .success(let spawned):
            pid = spawned
        case .failure(let failure):
            let missing = failure.isMissingProgram
            try finish(
                run,
                LocalRunStatus(
                    state: .failed, exitCode: missing ? 127 : nil, failureClass: missing ? .userError : .infrastructure,
                    reason: "cannot execute \(request.argv[0]): \(failure.message)", finishedAt: Date()))
            return
        }
        try run.write(LocalRunProcess(pid: pid), to: run.process)

        let deadline = startedAt.addingTimeInterval(TimeInterval(request.maxRuntimeSeconds))
        var stopping: (state: JobState, reason: String, killAt: Date)?
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                try finish(run, outcome(status: status, stopping: stopping.map { ($0.state, $0.reason) }))
                return
            }
            if result < 0 && errno != EINTR {
                try finish(
                    run,
                    LocalRunStatus(
                        state: .failed, failureClass: .infrastructure, reason: "lost the job's process: \(String(cString: strerror(errno)))",
                        finishedAt: Date()))
                return
            }
            let now = Date()
            if let current = stopping {
                if now >= current.killAt { kill(-pid, SIGKILL) }
            } else if let cancel = run.read(LocalRunCancel.self, from: run.cancel) {
                stopping = (.cancelled, cancel.reason, now.addingTimeInterval(request.gracePeriodSeconds))
                kill(-pid, SIGTERM)
            } else if now >= deadline {
                stopping = (
                    .timedOut, "exceeded maxRuntimeSeconds (\(request.maxRuntimeSeconds) s)", now.addingTimeInterval(request.gracePeriodSeconds)
                )
                kill(-pid, SIGTERM)
            }
            usleep(tick)
        }
    }

    /// The outcome for a wait status; a stop we asked for decides the state whatever the exit code.
    static func outcome(status: Int32, stopping: (JobState, String)?) -> LocalRunStatus {
        let exited = status & 0x7f == 0
        let exitCode = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        if let (state, reason) = stopping {
            return LocalRunStatus(
                state: state, exitCode: exitCode, failureClass: state == .timedOut ? .userError : nil, reason: reason, finishedAt: Date())
        }
        if exited && exitCode == 0 { return LocalRunStatus(state: .succeeded, exitCode: 0, finishedAt: Date()) }
        let reason = exited ? "exited with status \(exitCode)" : "killed by signal \(status & 0x7f)"
        return LocalRunStatus(state: .failed, exitCode: exitCode, failureClass: .userError, reason: reason, finishedAt: Date())
    }

    /// The job's environment: a minimal base, its spec env, its secrets read from the secrets
    /// directory (values never pass through the worker, a topic or a log).
    static func jobEnvironment(_ request: LocalRunRequest) throws -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var environment = ["PATH": inherited["TRAINYARD_JOB_PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
        for key in ["HOME", "LANG", "TZ"] { environment[key] = inherited[key] }
        environment.merge(request.env) { _, spec in spec }
        environment["TRAINYARD_JOB_ID"] = request.jobID.rawValue
        environment["TRAINYARD_ATTEMPT"] = String(request.attempt)
        for secret in request.secrets {
            guard let directory = inherited["TRAINYARD_SECRETS_DIR"] else {
                throw SecretError(description: "secret \(secret.secretName) requested but no secrets directory is configured")
            }
            let file = URL(fileURLWithPath: directory).appendingPathComponent(secret.secretName)
            guard let value = try? String(contentsOf: file, encoding: .utf8) else {
                throw SecretError(description: "secret \(secret.secretName) not found in the secrets directory")
            }
            environment[secret.env] = value.trimmingCharacters(in: .newlines)
        }
        return environment
    }

    private static func finish(_ run: LocalRunDirectory, _ status: LocalRunStatus) throws {
        _ = try run.create(status, at: run.status)
    }

    struct SecretError: Error, CustomStringConvertible {
        var description: String
    }
}
