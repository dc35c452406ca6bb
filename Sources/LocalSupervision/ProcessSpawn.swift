import Glibc

/// Starts a program with `posix_spawn`: an argv, never a shell; the three standard streams opened
/// from paths; an empty signal mask and the signals a job expects at their defaults.
public enum ProcessSpawn {
    /// Where the child's standard stream comes from.
    public struct Stream: Sendable {
        public var path: String
        public var flags: Int32

        public init(path: String, flags: Int32) {
            self.path = path
            self.flags = flags
        }

        public static let nullInput = Stream(path: "/dev/null", flags: O_RDONLY)
        public static let nullOutput = Stream(path: "/dev/null", flags: O_WRONLY)
        /// Appends to `path`, creating it.
        public static func appending(to path: String) -> Stream { Stream(path: path, flags: O_WRONLY | O_CREAT | O_APPEND) }
    }

    /// How the child is grouped.
    public enum Grouping: Sendable {
        /// A new session (detached from the parent's terminal and process group).
        case newSession
        /// A new process group, so a signal to the group reaches the child's descendants.
        case newProcessGroup
    }

    /// `posix_spawn` failed with this errno.
    public struct Failure: Error, Sendable {
        public var code: Int32
        public var message: String { String(cString: strerror(code)) }
    }

    /// glibc's POSIX_SPAWN_SETSID (not exported to Swift).
    private static let setSessionFlag: Int32 = 0x80

    /// Returns the child's pid. `environment` holds `NAME=value` strings; with `searchPath`,
    /// `argv[0]` is looked up in this process's PATH (`posix_spawnp`), else it is a path.
    public static func start(
        _ argv: [String], environment: [String], stdin: Stream, stdout: Stream, stderr: Stream, grouping: Grouping, searchPath: Bool
    ) -> Result<pid_t, Failure> {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        for (descriptor, stream) in [stdin, stdout, stderr].enumerated() {
            posix_spawn_file_actions_addopen(&fileActions, Int32(descriptor), stream.path, stream.flags, 0o644)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        switch grouping {
        case .newSession: flags |= setSessionFlag
        case .newProcessGroup:
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
        }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in arguments { free(pointer) }
            for pointer in variables { free(pointer) }
        }
        var pid: pid_t = 0
        let result =
            searchPath
            ? posix_spawnp(&pid, argv[0], &fileActions, &attributes, arguments, variables)
            : posix_spawn(&pid, argv[0], &fileActions, &attributes, arguments, variables)
        guard result == 0 else { return .failure(Failure(code: result)) }
        return .success(pid)
    }
}
