import TrainyardCore

extension SecretPolicy {
    /// The secret policy of the worker configuration file at `path`, or the default (a team only its
    /// own secrets) without one. Errors name the file and field.
    public static func load(workerConfigurationAt path: String?) throws -> SecretPolicy {
        guard let path else { return .ownTeamOnly }
        return try ConfigFile.load(SecretPolicy.self, path: path)
    }
}
