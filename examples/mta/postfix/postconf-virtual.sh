# mdpipe intake, Postfix: virtual(8) delivers every address of the list
# domain into ONE maildir, @INTAKE_BASE@/intake/, as the user that owns it
# and runs the pipeline. Run as root (postconf -e edits main.cf in place;
# none of these parameters is set by Debian but recipient_delimiter, which
# Debian sets to + already), copy vmailbox.pcre, then postfix reload. The
# list domain must not also be in mydestination. See mdpipe-mta(7).
#
# Placeholders (test/postfix substitutes them; so do you):
#   @CONFIG_DIR@   where vmailbox.pcre is (/etc/postfix)
#   @INTAKE_BASE@  the directory that holds the intake maildir
#                  (/var/spool/mdpipe; it must exist, owned by that user)
#   @UID@ @GID@    the numeric uid and gid of that user (id -u, id -g);
#                  virtual_minimum_uid is that uid too: virtual(8)
#                  refuses a uid below it
#
# main.cf must exist: Debian's "No configuration" leaves none, and
# mdpipe-mta(7), "Postfix without main.cf", makes it.
#
# Postfix writes X-Original-To (the RCPT TO as sent, +extension kept)
# above Delivered-To; mdroute's default -H reads the topmost of them.
postconf -e 'recipient_delimiter = +' \
  'virtual_mailbox_domains = lists.example.test' \
  'virtual_mailbox_base = @INTAKE_BASE@' \
  'virtual_mailbox_maps = pcre:@CONFIG_DIR@/vmailbox.pcre' \
  'virtual_uid_maps = static:@UID@' \
  'virtual_gid_maps = static:@GID@' \
  'virtual_minimum_uid = @UID@'
