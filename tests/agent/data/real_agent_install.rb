# Runs the CodeDeploy agent's own Install code (lib/ of aws-codedeploy-agent 1.8.x, from
# $AGENT_LIB) on an unpacked bundle: the reference for tests/agent/real_agent_test.py.
# Only the logger and the OS check are stubbed. Prints "RESULT ok" or "RESULT failed MESSAGE",
# after "EVENT BeforeInstall" when the appspec does not parse (the agent's HookExecutor parses
# it first for BeforeInstall) or "EVENT Install" when the install step fails.
# usage: ruby real_agent_install.rb ARCHIVE_DIR INSTRUCTIONS_DIR GROUP_ID FILE_EXISTS_BEHAVIOR
require_relative "agent_stubs"

module InstanceAgent
  module Platform
    class LinuxOnly
      def self.supported_oses
        ["linux"]
      end
    end

    def self.util
      LinuxOnly
    end
  end
end

spec_dir = "instance_agent/plugins/codedeploy/application_specification"
require "#{spec_dir}/application_specification"
%w[ace_info acl_info context_info range_info].each { |f| require "#{spec_dir}/#{f}" }
require "instance_agent/plugins/codedeploy/installer"

archive, instructions, group, behavior = ARGV
FileUtils.mkdir_p(instructions)
event = "BeforeInstall"
begin
  text = File.read(File.join(archive, "appspec.yml"))
  spec = InstanceAgent::Plugins::CodeDeployPlugin::ApplicationSpecification::ApplicationSpecification.parse(text)
  event = "Install"
  InstanceAgent::Plugins::CodeDeployPlugin::Installer.new(
    deployment_archive_dir: archive, deployment_instructions_dir: instructions,
    file_exists_behavior: behavior
  ).install(group, spec)
  puts "RESULT ok"
rescue Exception => e # rubocop:disable Lint/RescueException -- the deployment's error, whatever it is
  puts "EVENT #{event}"
  puts "RESULT failed #{e.message}"
end
