import Glibc

/// The process that owns one local attempt (`trainyard-local-supervise local-supervise DIR …`).
///
/// It holds the run directory's lock for its whole life, starts the job at most once (guarded by
/// the create-only `started.json`), enforces the max runtime, honours the `cancel` file, and
/// writes the outcome to `status.json`. It runs in its own session, so it outlives the worker
/// that started it. It sleeps in `sigtimedwait` until the job exits (SIGCHLD), a worker asks it
/// to look at a new cancel request (SIGCHLD sent by the worker: harmless to any other process),
/// or a deadline (max runtime, kill after grace) comes; a slow re-check of the cancel file covers
/// workers that cannot signal it (another PID namespace).
///
/// It links only the C library and the Swift runtime, so starting it costs little more than
/// starting the job itself.
public enum LocalSupervisor {
    /// How often the cancel file is re-read when no signal came (a worker in another PID namespace).
    static let cancelRecheckSeconds = 2.0

    /// Entry point: `arguments` are the process's arguments after the program name.
    public static func main(arguments: [String]) -> Int32 {
        closeInheritedDescriptors()
        guard let request = SupervisionRequest(arguments: arguments) else {
            let usage =
                "usage: local-supervise DIR --max-runtime S --grace S [--secrets-dir P] [--secret ENV=NAME]... [--run-as UID:GID] -- ARGV...\n"
            _ = usage.withCString { write(2, $0, strlen($0)) }
            return 2
        }
        return run(request)
    }

    /// Keeps only stdio of what this process inherited. A descriptor inherited from the worker
    /// (or from whatever started the worker) would otherwise stay open for the job's whole life:
    /// e.g. the socket through which Foundation's `Process` learns that the worker exited, so
    /// whoever started the worker would wait for the job too. Inherited descriptors are the ones
    /// without close-on-exec (the exec closed the others); descriptors this process opened itself
    /// while starting (the `trainyard local-supervise` path) have it set and are kept.
    static func closeInheritedDescriptors() {
        guard let listing = opendir("/proc/self/fd") else {
            closefrom(3)
            return
        }
        var inherited: [Int32] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let descriptor = Int32(name), descriptor > 2, descriptor != dirfd(listing) else { continue }
            if fcntl(descriptor, F_GETFD) & FD_CLOEXEC == 0 { inherited.append(descriptor) }
        }
        closedir(listing)
        for descriptor in inherited { close(descriptor) }
    }

    /// Runs the attempt; returns the supervisor's exit status.
    public static func run(_ request: SupervisionRequest) -> Int32 {
        let run = RunFiles(directory: request.directory)
        let lock = open(run.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else {
            note(run, "cannot open \(run.lock): \(String(cString: strerror(errno)))")
            return 1
        }
        var record = flock()
        record.l_type = Int16(F_WRLCK)
        record.l_whence = Int16(SEEK_SET)
        guard fcntl(lock, F_SETLK, &record) == 0 else {
            note(run, "another supervisor holds \(run.lock); exiting")
            return 0
        }
        // The lock stays held until this process exits, however it exits.
        if RunFiles.exists(run.status) { return 0 }
        if RunFiles.exists(run.started) {
            // A previous supervisor started the job and died: the job cannot be waited for any more.
            RunProcess.read(run.process)?.killGroup()
            return finish(run, .lost("the local supervisor was lost while the job ran"))
        }
        if let reason = cancelReason(run) { return finish(run, Outcome(state: "CANCELLED", reason: reason)) }
        let started = JSONText.object([("startedAt", JSONText.string(Timestamp.now())), ("supervisorPID", String(getpid()))])
        switch RunFiles.create(run.started, with: started) {
        case .created: break
        case .existed:
            note(run, "started.json already exists; not starting the job again")
            return 0
        case .failed(let code):
            note(run, "cannot create started.json: \(String(cString: strerror(code)))")
            return 1
        }
        return supervise(request, run)
    }

    private static func supervise(_ request: SupervisionRequest, _ run: RunFiles) -> Int32 {
        var environment = inheritedEnvironment()
        for secret in request.secrets {
            guard let directory = request.secretsDirectory else {
                return finish(run, .invalid("secret \(secret.name) requested but no secrets directory is configured"))
            }
            guard secret.name.firstIndex(of: "/") == nil, let bytes = RunFiles.read(directory + "/" + secret.name) else {
                return finish(run, .invalid("secret \(secret.name) not found in the secrets directory"))
            }
            var value = bytes[...]
            while let last = value.last, last == 0x0A || last == 0x0D { value = value.dropLast() }
            environment.append("\(secret.env)=\(String(decoding: value, as: UTF8.self))")
        }
        guard chdir(run.work) == 0 else { return finish(run, .lost("cannot enter \(run.work)")) }
        if let user = request.runAs {
            // The job's user owns its working directory only; the run directory and its records
            // (status, cancel, process, logs) stay the supervisor's and are not writable to it.
            guard chown(run.work, user.uid, user.gid) == 0, chmod(run.work, 0o700) == 0 else {
                return finish(run, .lost("cannot give \(run.work) to uid \(user.uid): \(String(cString: strerror(errno)))"))
            }
        }

        // Signals arrive through sigtimedwait only; the job starts with an empty mask and default handlers.
        var wakeups = sigset_t()
        sigemptyset(&wakeups)
        sigaddset(&wakeups, SIGCHLD)
        sigprocmask(SIG_BLOCK, &wakeups, nil)

        let pid: pid_t
        switch spawn(request.argv, environment: environment, runAs: request.runAs, run: run) {
        case .success(let spawned): pid = spawned
        case .failure(let failure):
            let code = failure.code
            let missing = code == ENOENT || code == EACCES || code == ENOEXEC
            var outcome = Outcome(
                state: "FAILED", failureClass: missing ? "USER_ERROR" : "INFRASTRUCTURE",
                reason: "cannot execute \(request.argv[0]): \(String(cString: strerror(code)))")
            if missing { outcome.exitCode = 127 }
            return finish(run, outcome)
        }
        RunFiles.replace(run.process, with: RunProcess(pid: pid, pidNamespace: RunProcess.currentNamespace).json)

        let deadline = monotonicSeconds() + Double(request.maxRuntimeSeconds)
        var stopping: (state: String, reason: String)?
        var killAt = Double.infinity
        var nextCancelCheck = 0.0
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return finish(run, outcome(status: status, stopping: stopping)) }
            if result < 0 && errno != EINTR {
                return finish(run, .lost("lost the job's process: \(String(cString: strerror(errno)))"))
            }
            let now = monotonicSeconds()
            if stopping != nil {
                if now >= killAt {
                    kill(-pid, SIGKILL)
                    killAt = .infinity
                }
            } else if now >= nextCancelCheck, let reason = cancelReason(run) {
                stopping = ("CANCELLED", reason)
                killAt = now + request.gracePeriodSeconds
                kill(-pid, SIGTERM)
            } else if now >= deadline {
                stopping = ("TIMED_OUT", "exceeded maxRuntimeSeconds (\(request.maxRuntimeSeconds) s)")
                killAt = now + request.gracePeriodSeconds
                kill(-pid, SIGTERM)
            }
            if now >= nextCancelCheck { nextCancelCheck = now + cancelRecheckSeconds }
            let wake = min(stopping == nil ? min(deadline, nextCancelCheck) : killAt, now + 3600)
            var timeout = timespec(tv_sec: Int(max(0, wake - now)), tv_nsec: Int(max(0, wake - now).truncatingRemainder(dividingBy: 1) * 1e9))
            if sigtimedwait(&wakeups, nil, &timeout) == SIGCHLD {
                // An exit, or a worker's nudge about a new cancel request: look at both now.
                nextCancelCheck = 0
            }
        }
    }

    /// The outcome for a wait status; a stop we asked for decides the state whatever the exit code.
    static func outcome(status: Int32, stopping: (state: String, reason: String)?) -> Outcome {
        let exited = status & 0x7f == 0
        let exitCode = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        if let (state, reason) = stopping {
            return Outcome(state: state, exitCode: exitCode, failureClass: state == "TIMED_OUT" ? "USER_ERROR" : nil, reason: reason)
        }
        if exited && exitCode == 0 { return Outcome(state: "SUCCEEDED", exitCode: 0) }
        let reason = exited ? "exited with status \(exitCode)" : "killed by signal \(status & 0x7f)"
        return Outcome(state: "FAILED", exitCode: exitCode, failureClass: "USER_ERROR", reason: reason)
    }

    /// An attempt's outcome as `status.json` records it (states and classes in their wire spelling).
    struct Outcome: Equatable {
        var state: String
        var exitCode: Int32?
        var failureClass: String?
        var reason: String?

        init(state: String, exitCode: Int32? = nil, failureClass: String? = nil, reason: String? = nil) {
            self.state = state
            self.exitCode = exitCode
            self.failureClass = failureClass
            self.reason = reason
        }

        static func lost(_ reason: String) -> Outcome { Outcome(state: "FAILED", failureClass: "INFRASTRUCTURE", reason: reason) }
        /// A configuration problem: retrying the attempt cannot help.
        static func invalid(_ reason: String) -> Outcome { Outcome(state: "FAILED", failureClass: "INVALID_REQUEST", reason: reason) }

        var json: [UInt8] {
            var fields = [("state", JSONText.string(state)), ("finishedAt", JSONText.string(Timestamp.now()))]
            if let exitCode { fields.append(("exitCode", String(exitCode))) }
            if let failureClass { fields.append(("failureClass", JSONText.string(failureClass))) }
            if let reason { fields.append(("reason", JSONText.string(reason))) }
            return JSONText.object(fields)
        }
    }

    private static func finish(_ run: RunFiles, _ outcome: Outcome) -> Int32 {
        if case .failed(let code) = RunFiles.create(run.status, with: outcome.json) {
            note(run, "cannot write status.json: \(String(cString: strerror(code)))")
            return 1
        }
        return 0
    }

    private static func cancelReason(_ run: RunFiles) -> String? {
        RunFiles.read(run.cancel).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Starts the job in its own process group (so signals reach its descendants), output to the
    /// run's logs; `posix_spawnp` searches this process's PATH, which is the job's.
    private static func spawn(_ argv: [String], environment: [String], runAs: JobUser?, run: RunFiles) -> Result<pid_t, ProcessSpawn.Failure> {
        if let runAs { return JobUserSpawn.start(argv, environment: environment, user: runAs, stdout: run.stdout, stderr: run.stderr) }
        return ProcessSpawn.start(
            argv, environment: environment, stdin: .nullInput, stdout: .appending(to: run.stdout), stderr: .appending(to: run.stderr),
            grouping: .newProcessGroup, searchPath: true)
    }

    /// This process's environment, `NAME=value` strings (the worker made it the job's).
    private static func inheritedEnvironment() -> [String] {
        var variables: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            variables.append(String(cString: entry))
            cursor += 1
        }
        return variables
    }

    /// Appends a line to `supervisor.log` (created only when there is something to say).
    private static func note(_ run: RunFiles, _ text: String) {
        let descriptor = open(run.supervisorLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let line = "\(Timestamp.now()) \(text)\n"
        _ = line.withCString { write(descriptor, $0, strlen($0)) }
    }
}
