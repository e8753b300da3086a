# What the agent's code needs from the rest of the agent to run on its own: the load path
# ($AGENT_LIB, its lib/ directory), the standard libraries it takes for granted, a logger
# that drops everything and an empty configuration. Shared by the real_agent_*.rb harnesses.
$LOAD_PATH.unshift ENV.fetch("AGENT_LIB")
require "set"
require "yaml"
require "fileutils"
require "json"

module InstanceAgent
  module Log
    SEVERITIES = %w[debug info warn error fatal].freeze
    def self.method_missing(*_args); end
  end

  class Config
    def self.config
      {}
    end
  end
end
