import Foundation

/// The shared `credentials` and `config` files of the AWS CLI and SDKs (INI format).
///
/// Paths: `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`) and `AWS_CONFIG_FILE`
/// (default `~/.aws/config`). In the credentials file a section is named after the profile
/// (`[dev]`); in the config file it is `[profile dev]`, except `[default]`.
struct AWSSharedConfigFiles: Sendable {
    var credentials: [String: [String: String]]
    var config: [String: [String: String]]

    init(environment: [String: String]) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        let configPath = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        credentials = Self.parse((try? String(contentsOfFile: Self.expand(credentialsPath, home: home), encoding: .utf8)) ?? "")
        config = Self.parse((try? String(contentsOfFile: Self.expand(configPath, home: home), encoding: .utf8)) ?? "")
    }

    /// The settings of `profile` in the credentials file.
    func credentialsSection(_ profile: String) -> [String: String]? { credentials[profile] }

    /// The settings of `profile` in the config file.
    func configSection(_ profile: String) -> [String: String]? {
        profile == "default" ? (config["default"] ?? config["profile default"]) : config["profile \(profile)"]
    }

    /// Sections of `key = value` lines; `#` and `;` start comments; keys are lowercased.
    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section]?[key] = value
        }
        return sections
    }

    private static func expand(_ path: String, home: String) -> String {
        path.hasPrefix("~/") ? home + path.dropFirst() : path
    }
}
