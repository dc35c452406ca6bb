import Testing
import TrainyardCore
import Yams

/// Which team may reference which secret, per target (issue #13, item 1).
@Suite struct SecretPolicyTests {
    static let policyYAML = """
        secrets:
          grants:
            - {teams: [search], names: [shared-hf-token], prefixes: [datasets-]}
            - {teams: ["*"], names: [pull-cache]}
        backends:
          - {name: laptop, type: local}
          - name: sm
            type: sagemaker
            secrets: {ownTeamPrefix: "{team}.", grants: [{teams: [ads], names: [ads-billing]}]}
        routing: {default: laptop}
        """

    func spec(team: String, secrets: [String]) -> JobSpec {
        JobSpec(
            name: "n", team: team, command: ["true"],
            secrets: secrets.enumerated().map { SecretReference(env: "S\($0.offset)", secretName: $0.element) })
    }

    @Test("without a policy a team reaches only its own secrets, never another's or the fleet's own")
    func defaultOwnTeamOnly() {
        let rules = SecretPolicy.ownTeamOnly.rules(forTarget: "anything")
        #expect(rules.allows(team: "search", secretName: "search-token"))
        for name in ["ads-token", "trainyard-kafka", "search", "search-", "token-search-x", "kafka-password"] {
            #expect(!rules.allows(team: "search", secretName: name), "\(name)")
        }
    }

    @Test("the violation names the first refused secret and its field, and says which target")
    func violationNamesSecret() throws {
        let violation = try #require(
            SecretPolicy.ownTeamOnly.violation(of: spec(team: "ads", secrets: ["ads-token", "search-token"]), onTarget: "k8s"))
        #expect(violation.field == "secrets[1].secretName")
        #expect(violation.message.contains("\"search-token\"") && violation.message.contains("\"k8s\"") && violation.message.contains("ads-"))
        #expect(SecretPolicy.ownTeamOnly.violation(of: spec(team: "ads", secrets: ["ads-token"]), onTarget: "k8s") == nil)
        #expect(SecretPolicy.ownTeamOnly.violation(of: spec(team: "ads", secrets: []), onTarget: "k8s") == nil)
    }

    @Test("grants by name, prefix and for every team; a target's own rules replace the fleet's")
    func fileRules() throws {
        let policy = try YAMLDecoder().decode(SecretPolicy.self, from: Self.policyYAML)
        let laptop = policy.rules(forTarget: "laptop")
        #expect(laptop.allows(team: "search", secretName: "shared-hf-token") && laptop.allows(team: "search", secretName: "datasets-wiki"))
        #expect(!laptop.allows(team: "ads", secretName: "shared-hf-token") && !laptop.allows(team: "ads", secretName: "datasets-wiki"))
        #expect(laptop.allows(team: "ads", secretName: "pull-cache") && laptop.allows(team: "ads", secretName: "ads-x"))
        let sagemaker = policy.rules(forTarget: "sm")
        #expect(sagemaker.allows(team: "ads", secretName: "ads.token") && sagemaker.allows(team: "ads", secretName: "ads-billing"))
        #expect(!sagemaker.allows(team: "ads", secretName: "ads-token") && !sagemaker.allows(team: "search", secretName: "shared-hf-token"))
        #expect(policy.summary.first == "secrets on sm: own {team}.…; ads -> ads-billing")
    }

    @Test("the API's check refuses only what no target allows, naming a secret every target refuses")
    func everyTarget() throws {
        let policy = try YAMLDecoder().decode(SecretPolicy.self, from: Self.policyYAML)
        #expect(policy.violationOnEveryTarget(of: spec(team: "ads", secrets: ["ads-billing"])) == nil, "sm allows it")
        #expect(policy.violationOnEveryTarget(of: spec(team: "ads", secrets: ["ads-token"])) == nil, "laptop allows it")
        let foreign = try #require(policy.violationOnEveryTarget(of: spec(team: "ads", secrets: ["ads-token", "search-token"])))
        #expect(foreign.field == "secrets[1].secretName" && foreign.message.contains("\"search-token\""))
        // Each target allows one of the two, none both.
        let split = try #require(policy.violationOnEveryTarget(of: spec(team: "ads", secrets: ["ads-token", "ads.token"])))
        #expect(split.field == "secrets")
    }

    @Test(
        "policies that would grant everything or misplace the team are refused",
        arguments: [
            "secrets: {grants: [{teams: [a], prefixes: [\"\"]}]}", "secrets: {ownTeamPrefix: \"x-{team}-\"}", "secrets: {grants: [{names: [x]}]}",
        ])
    func refusedPolicies(yaml: String) {
        #expect(throws: DecodingError.self) { try YAMLDecoder().decode(SecretPolicy.self, from: yaml) }
    }
}
