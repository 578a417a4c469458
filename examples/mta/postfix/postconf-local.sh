# mdpipe intake, Postfix local(8) aliases: the list domain becomes a local
# domain and each list address an alias of the intake maildir, as Mailman
# 2.1's genaliases wrote them (there, to its wrapper program). Run once, as
# root: each line adds to what main.cf has (Debian's /etc/aliases stays in
# alias_maps), then build mdpipe-aliases (see that file) and run
# postfix reload. See mdpipe-mta(7). main.cf must exist: Debian's "No
# configuration" leaves none, and mdpipe-mta(7), "Postfix without main.cf",
# makes it.
#
# Placeholder (test/postfix substitutes it; so do you):
#   @CONFIG_DIR@   where mdpipe-aliases is (/etc/postfix)
#
# Addresses missing from the aliases are refused at RCPT time
# (local_recipient_maps), so every list needs its lines. local(8) writes
# X-Original-To (the RCPT TO as sent, +extension kept) above Delivered-To;
# mdroute's default -H reads the topmost of them.
postconf -e 'recipient_delimiter = +' \
  "mydestination = $(postconf -h mydestination), lists.example.test" \
  "alias_maps = $(postconf -h alias_maps), hash:@CONFIG_DIR@/mdpipe-aliases" \
  "alias_database = $(postconf -h alias_database), hash:@CONFIG_DIR@/mdpipe-aliases"
