# mdpipe for Exim, Debian's default non-split configuration
# (dc_use_split_config='false'), where update-exim4.conf reads only
# exim4.conf.template and ignores conf.d without a word: run in this
# directory as root, then update-exim4.conf and invoke-rc.d exim4 restart.
# See mdpipe-mta(7). Placeholders: @EXIM_DIR@ (/etc/exim4); fill in those
# of conf.d/transport/30_mdpipe first, as its first comment says.
sed -i -e '/^begin routers$/r conf.d/router/050_mdpipe' \
  -e '/^begin transports$/r conf.d/transport/30_mdpipe' \
  @EXIM_DIR@/exim4.conf.template
sed -i -e "s/^dc_other_hostnames=''/dc_other_hostnames='lists.example.test'/" -e t \
  -e "s/^dc_other_hostnames='\(.*\)'/dc_other_hostnames='\1:lists.example.test'/" \
  @EXIM_DIR@/update-exim4.conf.conf
