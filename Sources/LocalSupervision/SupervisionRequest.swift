/// What a local supervisor runs, passed on its command line (no request file):
/// `local-supervise DIR --max-runtime S --grace S [--secrets-dir PATH] [--secret ENV=NAME]... [--run-as UID:GID] -- ARGV...`.
/// The supervisor's own environment is the job's (secrets excepted: it reads their values from
/// the secrets directory, so they never pass through the worker).
public struct SupervisionRequest: Sendable, Equatable {
    /// The attempt's run directory.
    public var directory: String
    public var maxRuntimeSeconds: Int
    /// SIGTERM → SIGKILL grace on cancel or timeout.
    public var gracePeriodSeconds: Double
    public var secretsDirectory: String?
    /// Environment variable → secret name (a file in the secrets directory).
    public var secrets: [Secret]
    /// Program and arguments, executed directly (no shell).
    public var argv: [String]
    /// The unprivileged user the job runs as; nil: the supervisor's own user.
    public var runAs: JobUser?

    public struct Secret: Sendable, Equatable {
        public var env: String
        public var name: String

        public init(env: String, name: String) {
            self.env = env
            self.name = name
        }
    }

    public init(
        directory: String, maxRuntimeSeconds: Int, gracePeriodSeconds: Double, secretsDirectory: String?, secrets: [Secret], argv: [String],
        runAs: JobUser? = nil
    ) {
        self.directory = directory
        self.maxRuntimeSeconds = maxRuntimeSeconds
        self.gracePeriodSeconds = gracePeriodSeconds
        self.secretsDirectory = secretsDirectory
        self.secrets = secrets
        self.argv = argv
        self.runAs = runAs
    }

    /// The arguments after the program name: `local-supervise DIR …`.
    public var arguments: [String] {
        var arguments = ["local-supervise", directory, "--max-runtime", String(maxRuntimeSeconds), "--grace", String(gracePeriodSeconds)]
        if let secretsDirectory { arguments += ["--secrets-dir", secretsDirectory] }
        for secret in secrets { arguments += ["--secret", "\(secret.env)=\(secret.name)"] }
        if let runAs { arguments += ["--run-as", runAs.argument] }
        return arguments + ["--"] + argv
    }

    /// Reads `arguments` (as produced by `arguments`, with or without the leading `local-supervise`).
    public init?(arguments: [String]) {
        var rest = arguments[...]
        if rest.first == "local-supervise" { rest = rest.dropFirst() }
        guard let directory = rest.popFirst() else { return nil }
        var maxRuntime: Int?
        var grace: Double?
        var secretsDirectory: String?
        var secrets: [Secret] = []
        var runAs: JobUser?
        while let option = rest.popFirst(), option != "--" {
            guard let value = rest.popFirst() else { return nil }
            switch option {
            case "--max-runtime": maxRuntime = Int(value)
            case "--grace": grace = Double(value)
            case "--secrets-dir": secretsDirectory = value
            case "--secret":
                guard let equals = value.firstIndex(of: "=") else { return nil }
                secrets.append(Secret(env: String(value[..<equals]), name: String(value[value.index(after: equals)...])))
            case "--run-as":
                guard let user = JobUser(argument: value) else { return nil }
                runAs = user
            default: return nil
            }
        }
        guard let maxRuntime, let grace, !rest.isEmpty else { return nil }
        self.init(
            directory: directory, maxRuntimeSeconds: maxRuntime, gracePeriodSeconds: grace, secretsDirectory: secretsDirectory, secrets: secrets,
            argv: Array(rest), runAs: runAs)
    }
}
