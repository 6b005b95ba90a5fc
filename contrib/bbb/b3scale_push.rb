#!/usr/bin/ruby
# frozen_string_literal: true

# BBB post-publish hook: pushes the recording just published to the b3scale cluster.
# Install: copy to /usr/local/bigbluebutton/core/scripts/post_publish/ (BBB runs every script
# there with -m <recordID>). b3scale reads B3SCALE_API_URL and B3SCALE_API_ACCESS_TOKEN (the
# node agent's token) from /etc/default/b3scale.
require 'optparse'

record_id = nil
OptionParser.new { |opts| opts.on('-m', '--meeting-id ID') { |id| record_id = id } }.parse!
exit 0 if record_id.nil?

# A failed push is logged and retried by the next run of `b3scale recordings push`; it never
# fails BBB's publishing.
ok = system('/usr/local/bin/b3scale', 'recordings', 'push', record_id)
warn("b3scale recordings push #{record_id} failed; run it again by hand") unless ok
exit 0
